import Foundation
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// One netlink message header read back from a batch.
struct Message: Equatable {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32

    static let batchBegin: UInt16 = 0x10
    static let batchEnd: UInt16 = 0x11
    static func nft(_ message: UInt16) -> UInt16 { 10 << 8 | message }  // NFNL_SUBSYS_NFTABLES
    static let newTable = nft(0), delTable = nft(2), newChain = nft(3), delChain = nft(5), newRule = nft(6), delRule = nft(8)
    static let newSet = nft(9), delSet = nft(11), newSetElem = nft(12), delSetElem = nft(14)

    static func parse(_ batch: FinalizedBatch) -> [Message] {
        let bytes = batch.bytes
        var messages: [Message] = []
        var offset = 0
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
        func u16(_ at: Int) -> UInt16 { bytes[at..<at + 2].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) } }
        while offset + 16 <= bytes.count {
            let length = Int(u32(offset))
            messages.append(Message(type: u16(offset + 4), flags: u16(offset + 6), sequence: u32(offset + 8)))
            offset += (length + 3) & ~3
        }
        return messages
    }
}

/// The batch builder, driven through a recording transport: no root, no kernel.
@Suite struct BatchTests {
    static func graph(_ name: String) throws -> RuleGraph {
        let fixture = Fixture.named(name)
        var objects: [RawObject] = []
        for input in fixture.inputs {
            objects += try ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
        }
        let (cluster, _) = try ClusterLoader.load(objects, keepGoing: false)
        return Lowering.lower(
            cluster, node: NodeConfig(nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.244.0.0/16")!]))
    }

    /// No table yet: a `FreshInstall`, a transaction per `GraphPart`. First the tables,
    /// the fixed chains (base chains without rules) and the sets without elements; then
    /// runs of Service chains with their rules; last the dispatch maps' elements and the
    /// base chains' rules. Chains are created in graph order, and together the
    /// transactions are exactly the messages of the one-transaction plan.
    @Test func freshInstallSendsPartsInGraphOrder() throws {
        let graph = try Self.graph("shop")
        let transport = RecordingTransport()
        let applied = try Applier(transport: transport).apply(graph)
        let batches = transport.batches
        try #require(batches.count >= 3)
        #expect(applied.plan.summary.hasPrefix("\(batches.count) transactions, \(applied.plan.messageCount) messages"))
        for batch in batches {
            let messages = Message.parse(batch)
            #expect(messages.first?.type == Message.batchBegin)
            #expect(messages.last?.type == Message.batchEnd)
            #expect(messages.count == batch.messageCount + 2)
            // Sequence numbers strictly increase, so each names one message.
            #expect(zip(messages, messages.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
            #expect(!messages.contains { [Message.delTable, Message.delChain, Message.delRule, Message.delSet].contains($0.type) })
        }
        let baseChains = Set(graph.tables.flatMap { $0.chains.filter { $0.kind != .regular }.map(\.name) })
        func objects(_ batch: FinalizedBatch) -> [GraphObject] { batch.contentSequences.map { batch.objects[$0]! } }
        func ruleChains(_ batch: FinalizedBatch) -> [ChainName] {
            objects(batch).compactMap { if case .rule(_, let chain, _, _) = $0 { chain } else { nil } }
        }

        let opening = Message.parse(batches[0]).map(\.type)
        #expect(opening[1] == Message.newTable && opening[2] == Message.newChain)
        #expect(opening.filter { $0 == Message.newTable }.count == 2, "one per family")
        #expect(opening.contains(Message.newSet) && !opening.contains(Message.newSetElem))
        for batch in batches.dropLast() {
            #expect(ruleChains(batch).allSatisfy { !baseChains.contains($0) }, "no base chain gets a rule before the last part")
        }
        for batch in batches.dropFirst() { #expect(!Message.parse(batch).contains { $0.type == Message.newTable }) }
        let closing = batches[batches.count - 1]
        #expect(Set(Message.parse(closing).dropFirst().dropLast().map(\.type)) == [Message.newSetElem, Message.newRule])
        #expect(Set(ruleChains(closing)) == baseChains)

        // Each table's chains are created in graph order (the order `nft list` shows).
        for table in graph.tables {
            let created = batches.flatMap(objects).compactMap { object -> ChainName? in
                if case .chain(table.family, let name, _) = object { name } else { nil }
            }
            #expect(created == table.chains.map(\.name))
        }

        func counted(_ batches: [FinalizedBatch]) -> [GraphObject: Int] {
            batches.flatMap(objects).reduce(into: [:]) { $0[$1, default: 0] += 1 }
        }
        let single = GraphEncoder.plan(graph).batches
        #expect(single.count == 1)
        #expect(counted(batches) == counted(single), "the parts must send exactly the one-transaction plan's messages")
        #expect(batches.map(\.byteCount).reduce(0, +) == single[0].byteCount + (batches.count - 1) * 2 * 20, "plus begin/end pairs")
    }

    /// A fresh install refused after its first part deletes the tables it made (one
    /// more transaction); refused in its first part, it sends nothing more. If that
    /// delete is refused too, the error says so and how to clean up.
    @Test(arguments: [false, true])
    func refusedFreshInstallRemovesWhatItMade(_ inClosing: Bool) throws {
        let graph = try Self.graph("shop")
        let probe = RecordingTransport()
        try Applier(transport: probe).apply(graph)
        let part = inClosing ? probe.batches.count - 1 : 1
        let refuses = RecordingTransport(failContentMessage: (0, 22), failBatches: [part])
        #expect(throws: ApplyError.self) { try Applier(transport: refuses).apply(graph) }
        try #require(refuses.batches.count == part + 2)
        let undo = Message.parse(refuses.batches[part + 1]).map(\.type)
        #expect(undo == [Message.batchBegin, Message.newTable, Message.delTable, Message.newTable, Message.delTable, Message.batchEnd])

        let first = RecordingTransport(failContentMessage: (0, 22), failBatches: [0])
        #expect(throws: ApplyError.self) { try Applier(transport: first).apply(graph) }
        #expect(first.batches.count == 1, "a refused first part made nothing")

        let stuck = RecordingTransport(failContentMessage: (0, 22), failBatches: [part, part + 1])
        do {
            try Applier(transport: stuck).apply(graph)
            Issue.record("expected an error")
        } catch {
            guard case .partlyInstalled(let cause, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(cause == .kernelRejected(object: stuck.batches[part].objects[stuck.batches[part].contentSequences[0]]!, errno: 22))
            #expect(error.description.contains("svc2nft delete"), "\(error)")
        }
    }

    /// The kernel as it is after applying `graph`, plus extra chains.
    static func kernel(after graph: RuleGraph, family: TableFamily, extraChains: [String] = []) -> TableState {
        let table = graph.tables.first { $0.family == family }!
        var state = TableState()
        for chain in table.chains {
            state.chains[chain.name.text] = chain.kind
            state.comments[chain.name.text] = chain.comment?.text
        }
        for name in extraChains { state.chains[name] = .regular }
        for (index, name) in state.chains.keys.sorted().enumerated() { state.handles[name] = UInt64(index + 1) }
        for set in table.sets { state.sets[set.name.text] = SetDefinition(set) }
        return state
    }

    /// Re-applying what the kernel has touches no chain and no rule: only the elements of
    /// the dispatch sets are refilled, and session-affinity entries are left alone.
    @Test func unchangedTableRefillsElementsOnly() throws {
        let graph = try Self.graph("affinity")
        let transport = RecordingTransport(kernel: [
            .ip: Self.kernel(after: graph, family: .ip), .ip6: Self.kernel(after: graph, family: .ip6),
        ])
        try Applier(transport: transport).apply(graph)
        #expect(transport.batches.count == 1, "one transaction")
        let batch = try #require(transport.batches.first)
        let types = Message.parse(batch).map(\.type)
        for forbidden in [
            Message.delTable, Message.newChain, Message.delChain, Message.newRule, Message.delRule, Message.newSet, Message.delSet,
        ] {
            #expect(!types.contains(forbidden), "unexpected message type \(forbidden)")
        }
        let flushed = Message.parse(batch).filter { $0.type == Message.delSetElem }.compactMap { batch.objects[$0.sequence] }
        #expect(flushed.contains(.elements(.ip, SetName("service-ips"))))
        #expect(!flushed.contains { if case .elements(_, let name) = $0 { name.text.hasPrefix("aff-") } else { false } })
    }

    /// Chains the graph no longer has are deleted in the same transaction, after the
    /// dispatch maps no longer point at them, callers before callees.
    @Test func staleChainsAreDeletedAfterTheirReferences() throws {
        let graph = try Self.graph("shop")
        let kernel = Self.kernel(
            after: graph, family: .ip, extraChains: ["svc-gone/old/tcp/http_aaaaaaaa", "ep-gone/old/tcp/http__10.1.1.1/80_bbbbbbbb"])
        let transport = RecordingTransport(kernel: [.ip: kernel, .ip6: Self.kernel(after: graph, family: .ip6)])
        let applied = try Applier(transport: transport).apply(graph)
        #expect(transport.batches.count == 1)
        #expect(applied.plan.deleted == 2 && applied.plan.created == 0 && applied.plan.rewritten == 0, "\(applied.plan.summary)")
        let batch = try #require(transport.batches.first)
        let messages = Message.parse(batch)
        let deletes = messages.filter { $0.type == Message.delChain }
        let deleted = deletes.compactMap { batch.objects[$0.sequence] }
        #expect(
            deleted == [
                .chain(.ip, ChainName("svc-gone/old/tcp/http_aaaaaaaa"), nil),
                .chain(.ip, ChainName("ep-gone/old/tcp/http__10.1.1.1/80_bbbbbbbb"), nil),
            ])
        let lastRefill = try #require(messages.lastIndex { $0.type == Message.newSetElem })
        #expect(messages.firstIndex { $0.type == Message.delChain }! > lastRefill)
    }

    /// A refused batch is the whole apply: nothing else is sent, the kernel keeps the
    /// previous ruleset.
    @Test func aRefusedBatchIsTheWholeApply() throws {
        let graph = try Self.graph("shop")
        var kernel = Self.kernel(after: graph, family: .ip, extraChains: ["svc-gone/old/tcp/http_aaaaaaaa"])
        for name in kernel.chains.keys where name.hasPrefix("ep-shop/web") { kernel.chains[name] = nil }
        let refuses = RecordingTransport(failContentMessage: (0, 22), kernel: [.ip: kernel, .ip6: Self.kernel(after: graph, family: .ip6)])
        #expect(throws: ApplyError.self) { try Applier(transport: refuses).apply(graph) }
        #expect(refuses.batches.count == 1)
    }

    /// A fixed set whose definition changed (another svc2nft version) falls back to
    /// flushing and refilling everything in one batch.
    @Test func reshapedTableIsRefreshedWhole() throws {
        let graph = try Self.graph("shop")
        var kernel = Self.kernel(after: graph, family: .ip)
        kernel.sets["cluster-ips"] = SetDefinition(flags: 0, keyType: 7, keyLength: 4, isVerdictMap: true, timeoutMilliseconds: 0)
        let transport = RecordingTransport(kernel: [.ip: kernel, .ip6: Self.kernel(after: graph, family: .ip6)])
        try Applier(transport: transport).apply(graph)
        let main = try #require(transport.batches.first)
        let types = Message.parse(main).map(\.type)
        #expect(types[2] == Message.delRule, "flush every rule of the table")
        #expect(types.contains(Message.delSet) && types.contains(Message.newSet))
    }

    @Test func kernelErrorNamesTheGraphObject() throws {
        let graph = try Self.graph("shop")
        let probe = RecordingTransport()
        try Applier(transport: probe).apply(graph)
        // The part of the fresh install with the Service's rules; pick the content message that is a rule of a Service chain.
        func isServiceRule(_ object: GraphObject?) -> Bool {
            if case .rule(_, let chain, _, let owner)? = object { return chain.text.hasPrefix("svc-shop/web") && owner != nil }
            return false
        }
        let part = try #require(probe.batches.firstIndex { batch in batch.contentSequences.contains { isServiceRule(batch.objects[$0]) } })
        let batch = probe.batches[part]
        let sequences = batch.contentSequences
        let index = try #require(sequences.firstIndex { isServiceRule(batch.objects[$0]) })
        let failing = RecordingTransport(failContentMessage: (index, 2 /* ENOENT */), failBatches: [part])
        do {
            try Applier(transport: failing).apply(graph)
            Issue.record("expected an error")
        } catch {
            guard case .kernelRejected(let object, let errno) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(errno == 2)
            #expect(object == batch.objects[sequences[index]])
            #expect(error.description.contains("svc-shop/web/tcp/http"))
            #expect(error.description.contains("Service shop/web:http"))
        }
    }

    @Test func permissionDeniedIsItsOwnError() throws {
        let failing = RecordingTransport(failContentMessage: (0, 1 /* EPERM */))
        #expect(throws: ApplyError.permissionDenied) { try Applier(transport: failing).apply(try Self.graph("clusterip-basic")) }
    }

    /// Thousands of elements: the batch spans many pages and element messages stay small.
    @Test func largeGraphsSpanPages() {
        var services: [Service] = []
        var slices: [ServiceID: [EndpointSlice]] = [:]
        for i in 0..<3000 {
            let id = ServiceID(namespace: "ns", name: "svc-\(i)")
            let location = Location(file: "gen", path: "", object: id.description)
            services.append(
                Service(
                    id: id, type: .clusterIP, clusterIPs: [IPAddress(v4: 0x0A60_0000 + UInt32(i))], isHeadless: false,
                    ports: [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .number(8080), nodePort: 0)],
                    externalIPs: [], loadBalancerIngress: [], loadBalancerSourceRanges: [], externalTrafficPolicy: .cluster,
                    internalTrafficPolicy: .cluster, sessionAffinity: .none, healthCheckNodePort: 0, externalName: nil, source: location))
            let endpoints = (0..<3).map {
                Endpoint(
                    address: IPAddress(v4: 0x0AF4_0000 + UInt32(i * 4 + $0)), ready: true, serving: true, terminating: false, nodeName: nil,
                    zoneHints: [])
            }
            slices[id] = [
                EndpointSlice(
                    name: "s-\(i)", service: id, family: .v4, ports: [EndpointPort(name: "http", protocol: .tcp, port: 8080)],
                    endpoints: endpoints, source: location)
            ]
        }
        let graph = Lowering.lower(Cluster(services: services, slices: slices), node: NodeConfig())
        let batch = GraphEncoder.plan(graph).batches[0]
        #expect(batch.byteCount > 4 * 256 * 1024, "expected a batch over several 256 KiB libnftnl pages, got \(batch.byteCount) bytes")
        let messages = Message.parse(batch)
        #expect(messages.count == batch.messageCount + 2)
        #expect(Set(messages.map(\.sequence)).count == messages.count)
        let elementMessages = messages.filter { $0.type == Message.newSetElem }.count
        #expect(elementMessages > 2, "service-ips with 3000 elements must be split into several messages")
    }

    /// A chain whose content changed is rewritten in place under its old name and then
    /// renamed, so the dispatch map's element keeps pointing at it; new endpoint chains
    /// are created before the rules that go to them.
    @Test func changedChainIsRewrittenInPlaceAndRenamed() throws {
        let graph = try Self.graph("shop")
        let table = try #require(graph.tables.first { $0.family == .ip })
        let policy = try #require(table.chains.first { $0.name.text.hasPrefix("svc-shop/web/tcp/http_") })
        var kernel = Self.kernel(after: graph, family: .ip)
        for name in kernel.chains.keys where name.hasPrefix("ep-shop/web") { kernel.chains[name] = nil }
        kernel.chains[policy.name.text] = nil
        kernel.chains["svc-shop/web/tcp/http_aaaaaaaa"] = .regular
        kernel.handles["svc-shop/web/tcp/http_aaaaaaaa"] = 4242
        kernel.comments["svc-shop/web/tcp/http_aaaaaaaa"] = policy.comment?.text
        // With another comment the old version cannot become the new one (the kernel
        // keeps a chain's comment): it is deleted and the new one created.
        var otherComment = kernel
        otherComment.comments["svc-shop/web/tcp/http_aaaaaaaa"] = "something else"
        let recreated = try Applier(
            transport: RecordingTransport(kernel: [.ip: otherComment, .ip6: Self.kernel(after: graph, family: .ip6)])
        )
        .apply(graph)
        // (The kept external chain that goes to it is rewritten to point at the new one.)
        #expect(recreated.plan.created == 3 && recreated.plan.rewritten == 1 && recreated.plan.deleted == 1, "\(recreated.plan.summary)")
        let transport = RecordingTransport(kernel: [.ip: kernel, .ip6: Self.kernel(after: graph, family: .ip6)])
        let applied = try Applier(transport: transport).apply(graph)
        #expect(transport.batches.count == 1)
        #expect(applied.plan.created == 2 && applied.plan.rewritten == 1 && applied.plan.deleted == 0, "\(applied.plan.summary)")
        let batch = try #require(transport.batches.first)
        let messages = Message.parse(batch)
        let objects = messages.map { batch.objects[$0.sequence] }
        let created = messages.indices.filter { messages[$0].type == Message.newChain }
        #expect(created.count == 3, "two endpoint chains, and the rename")
        // The rename comes after everything else of the ip table and names the new version.
        let lastRefill = try #require(objects.lastIndex { $0 == .elements(.ip, SetName("service-ips")) })
        #expect(created.last! > lastRefill)
        #expect(objects[created.last!] == .chain(.ip, policy.name, policy.owner))
        #expect(!messages.contains { $0.type == Message.delChain }, "nothing is deleted: the old version becomes the new one")
        let firstRule = try #require(messages.firstIndex { $0.type == Message.newRule })
        #expect(created.prefix(2).allSatisfy { $0 < firstRule }, "chains exist before rules go to them")
    }

    @Test func deleteBatchAddsThenDeletesBothFamilies() {
        let messages = Message.parse(GraphEncoder.deleteBatch(tableName: "svc2nft"))
        #expect(
            messages.map(\.type) == [
                Message.batchBegin, Message.newTable, Message.delTable, Message.newTable, Message.delTable, Message.batchEnd,
            ])
    }
}
