import Foundation
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// `apply` against `NftFake`, an in-memory nf_tables with the kernel's rules (chains
/// before the rules and elements that name them, no deleting what is still referenced,
/// unique names, a refused batch changes nothing): every transaction svc2nft sends must
/// be accepted, and must leave exactly what a fresh install of the same input leaves.
@Suite struct FakeKernelTests {
    static let node = NodeConfig(nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.244.0.0/16")!])

    static func cluster(_ name: String) throws -> Cluster {
        let fixture = Fixture.named(name)
        var objects: [RawObject] = []
        for input in fixture.inputs {
            objects += try ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
        }
        return try ClusterLoader.load(objects, keepGoing: false).0
    }

    static func ruleset(_ cluster: Cluster) -> Ruleset { .lowering(cluster, node: node) }

    /// A fake after a fresh install of `cluster`.
    static func installed(_ cluster: Cluster) throws -> NftFake {
        let fake = NftFake()
        try Applier(transport: fake).apply(ruleset(cluster))
        return fake
    }

    /// The shop fixture with one endpoint less for shop/web (its chains change versions).
    static func shopWithoutOneWebEndpoint() throws -> Cluster {
        let shop = try cluster("shop")
        var slices = shop.slices
        let web = ServiceID(namespace: "shop", name: "web")
        let slice = try #require(slices[web]?.first)
        slices[web] = [
            EndpointSlice(
                name: slice.name, service: slice.service, family: slice.family, ports: slice.ports,
                endpoints: Array(slice.endpoints.dropFirst()), source: slice.source)
        ]
        return Cluster(services: shop.services, slices: slices)
    }

    /// A fresh install in parts leaves exactly what one transaction of the whole graph leaves.
    @Test func freshInstallInPartsEqualsOneTransaction() throws {
        let shop = try Self.cluster("shop")
        let parts = try Self.installed(shop)
        #expect(parts.batches.count >= 3)
        let whole = NftFake()
        let plan = GraphEncoder.plan(Lowering.lower(shop, node: Self.node))
        #expect(plan.batches.count == 1)
        #expect(try whole.send(plan.batches[0]).isEmpty, "the kernel's rules accept the one-transaction install")
        #expect(parts.snapshot() == whole.snapshot())
    }

    /// Issue 20, "restarts are quiet": applying what the kernel already holds plans an
    /// empty change and sends nothing at all, not even a table message.
    @Test(arguments: ["shop", "affinity", "service-cidr"])
    func unchangedApplySendsNothing(_ name: String) throws {
        let cluster = try Self.cluster(name)
        let fake = try Self.installed(cluster)
        let sent = fake.batches.count
        let applier = Applier(transport: fake)
        let current = try applier.kernelState(of: IPFamily.allCases.map { (TableFamily($0), Self.node.tableName) })
        let graph = Lowering.lower(cluster, node: Self.node)
        #expect(GraphEncoder.plan(graph, current: current).batches.isEmpty, "the kernel-state diff is empty")
        let applied = try applier.apply(Self.ruleset(cluster))
        #expect(applied.plan.batches.isEmpty && applied.plan.messageCount == 0)
        #expect(applied.plan.summary == "nothing: the kernel holds this ruleset")
        #expect(fake.batches.count == sent, "nothing reached the kernel")
    }

    /// A → B leaves exactly what a fresh install of B leaves, for pairs of fixtures
    /// (stale chains and sets deleted in an order the kernel accepts, renamed chains,
    /// element differences).
    @Test(arguments: [("shop", "policy-cluster"), ("policy-cluster", "shop"), ("affinity", "shop"), ("shop", "affinity")])
    func applyingAnotherInputLeavesExactlyIt(_ pair: (String, String)) throws {
        let fake = try Self.installed(try Self.cluster(pair.0))
        let next = try Self.cluster(pair.1)
        try Applier(transport: fake).apply(Self.ruleset(next))
        #expect(fake.snapshot() == (try Self.installed(next)).snapshot(), "\(pair.0) then \(pair.1) must equal \(pair.1) alone")
    }

    /// A chain whose content changed is rewritten in place and renamed: it keeps its
    /// kernel handle, so the dispatch map's element and every rule that pointed at it still do.
    @Test func changedChainIsRenamedNotReplaced() throws {
        let shop = try Self.cluster("shop")
        let fake = try Self.installed(shop)
        let before = try #require(fake.chainNames(.ip, table: "svc2nft")?.first { $0.hasPrefix("svc-shop/web/tcp/http_") })
        let handle = try #require(try fake.chainHandle(.ip, table: "svc2nft", chain: before))
        let changed = try Self.shopWithoutOneWebEndpoint()
        let applied = try Applier(transport: fake).apply(Self.ruleset(changed))
        #expect(applied.plan.batches.count == 1)
        #expect(applied.plan.rewritten >= 1 && applied.plan.deleted >= 1, "\(applied.plan.summary)")
        let after = try #require(fake.chainNames(.ip, table: "svc2nft")?.first { $0.hasPrefix("svc-shop/web/tcp/http_") })
        #expect(after != before)
        #expect(try fake.chainHandle(.ip, table: "svc2nft", chain: after) == handle, "the old version became the new one")
        #expect(fake.snapshot() == (try Self.installed(changed)).snapshot())
    }

    /// A Service moved to another ClusterIP while its policy chain changed: the new
    /// dispatch element points at the renamed chain, which within the batch still has its
    /// old name, so the element must name it so (the kernel knows no chain by the new
    /// name until the commit). Both plans, the kernel-state diff and incremental
    /// lowering, go through the encoder that does this.
    @Test func aNewElementForARenamedChainNamesItsOldName() throws {
        let changed = try Self.shopWithoutOneWebEndpoint()
        let web = ServiceID(namespace: "shop", name: "web")
        let moved = Cluster(
            services: changed.services.map { service in
                guard service.id == web else { return service }
                return Service(
                    id: service.id, type: service.type, clusterIPs: [IPAddress("10.96.0.99")!], isHeadless: service.isHeadless,
                    ports: service.ports, externalIPs: service.externalIPs, loadBalancerIngress: service.loadBalancerIngress,
                    loadBalancerSourceRanges: service.loadBalancerSourceRanges, externalTrafficPolicy: service.externalTrafficPolicy,
                    internalTrafficPolicy: service.internalTrafficPolicy, sessionAffinity: service.sessionAffinity,
                    healthCheckNodePort: service.healthCheckNodePort, externalName: service.externalName, source: service.source)
            }, slices: changed.slices)
        let fake = try Self.installed(try Self.cluster("shop"))
        let applied = try Applier(transport: fake).apply(Self.ruleset(moved))
        #expect(applied.plan.rewritten >= 1, "\(applied.plan.summary)")
        #expect(fake.snapshot() == (try Self.installed(moved)).snapshot())
    }

    /// A refused update changes nothing, and its error names the chain and its Service.
    @Test func aRefusedUpdateChangesNothingAndNamesTheObject() throws {
        let fake = try Self.installed(try Self.cluster("policy-cluster"))
        let before = fake.snapshot()
        fake.refuseRules(inChain: "svc-shop/web/tcp/http")
        let shop = Self.ruleset(try Self.cluster("shop"))
        do throws(ApplyError) {
            try Applier(transport: fake).apply(shop)
            Issue.record("expected a refusal")
        } catch {
            guard case .kernelRejected(let object, let errno) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(errno == EOPNOTSUPP)
            if case .rule(_, let chain, _, _) = object { #expect(chain.unversioned == "svc-shop/web/tcp/http") } else { Issue.record("\(object)") }
            #expect(error.description.contains("Service shop/web:http"), "\(error)")
        }
        #expect(fake.snapshot() == before, "a refused batch changes nothing")
        fake.stopRefusing()
        try Applier(transport: fake).apply(shop)
        #expect(fake.snapshot() == (try Self.installed(try Self.cluster("shop"))).snapshot())
    }

    /// A fresh install refused after its first part deletes the tables it made; refused
    /// in its first part, it sends nothing more. If that delete is refused too, the
    /// error says so and how to clean up.
    @Test(arguments: ["nat-output", "svc-shop/web/tcp/http"])
    func refusedFreshInstallLeavesNoTable(_ chain: String) throws {
        let shop = try Self.cluster("shop")
        let fake = NftFake()
        fake.refuseRules(inChain: chain)
        #expect(throws: ApplyError.self) { try Applier(transport: fake).apply(Self.ruleset(shop)) }
        #expect(fake.chainNames(.ip, table: "svc2nft") == nil && fake.chainNames(.ip6, table: "svc2nft") == nil)
        #expect(fake.snapshot().isEmpty, "nothing is left")

        let first = NftFake()
        first.refuseRules(inChain: "mark-for-masquerade")  // a fixed chain: its rules come with the first part
        #expect(throws: ApplyError.self) { try Applier(transport: first).apply(Self.ruleset(shop)) }
        #expect(first.batches.count == 1 && first.committed == 0, "a refused first part made nothing")

        let stuck = NftFake()
        stuck.refuseRules(inChain: chain)
        stuck.refusesTableDeletes = true
        let ruleset = Self.ruleset(shop)
        do throws(ApplyError) {
            try Applier(transport: stuck).apply(ruleset)
            Issue.record("expected an error")
        } catch {
            guard case .partlyInstalled = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(error.description.contains("svc2nft delete"), "\(error)")
        }
    }

    /// EPERM from the kernel is its own error (no CAP_NET_ADMIN).
    @Test func permissionDeniedIsItsOwnError() throws {
        let fake = NftFake()
        fake.refuseRules(inChain: "mark-for-masquerade", errno: EPERM)
        #expect(throws: ApplyError.permissionDenied) { try Applier(transport: fake).apply(Self.ruleset(try Self.cluster("clusterip-basic"))) }
    }

    /// A fixed set whose definition changed (another svc2nft version): every rule is
    /// flushed and refilled in one batch, and the result is the fresh install's.
    @Test func reshapedTableIsRefreshedWhole() throws {
        let shop = try Self.cluster("shop")
        let graph = Lowering.lower(shop, node: Self.node)
        let older = RuleGraph(
            tables: graph.tables.map { table in
                Table(
                    family: table.family, name: table.name, comment: table.comment?.text,
                    sets: table.sets.map { set in
                        set.name.text == "cluster-ips"
                            ? NamedSet(name: set.name, keyType: set.keyType + [.inetService], isVerdictMap: false) : set
                    }, chains: table.chains)
            }, notes: [])
        let fake = NftFake()
        #expect(try fake.send(GraphEncoder.plan(older).batches[0]).isEmpty)
        let applied = try Applier(transport: fake).apply(Self.ruleset(shop))
        #expect(applied.plan.batches.count == 1)
        #expect(fake.snapshot() == (try Self.installed(shop)).snapshot())
    }

    /// `apply --follow`'s differences (incremental lowering) go through the same encoder
    /// and are accepted: adding a Service's slice after a full apply ends where a fresh
    /// install of everything does.
    @Test func incrementalChangesReachTheSameTables() throws {
        let fixture = Fixture.named("shop")
        var objects: [RawObject] = []
        for input in fixture.inputs {
            objects += try ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
        }
        let slices = objects.filter { $0.kind == "EndpointSlice" }
        try #require(!slices.isEmpty)
        var store = ClusterStore()
        var lowering = IncrementalLowering(node: Self.node)
        var touched: Set<ServiceID> = []
        for object in objects where object.kind != "EndpointSlice" { touched.formUnion(try store.apply(ObjectEvent(change: .upsert, object: object))) }
        _ = lowering.update(touched, from: store)
        let fake = NftFake()
        try Applier(transport: fake).apply(.remembered(lowering))
        for slice in slices {
            let changes = lowering.update(try store.apply(ObjectEvent(change: .upsert, object: slice)), from: store)
            try Applier(transport: fake).apply(changes)
        }
        #expect(fake.snapshot() == (try Self.installed(store.cluster)).snapshot())
    }
}

