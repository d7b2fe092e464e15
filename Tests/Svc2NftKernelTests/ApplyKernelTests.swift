import Foundation
import Svc2NftTestSupport
import Testing

/// `svc2nft apply` and `delete` against the real kernel, each in its own namespace.
@Suite struct ApplyKernelTests {
    static let goldens = Fixture.all.filter { $0.exists("expected.nft") }

    /// apply(fixture) as argv for a namespace, with absolute input paths.
    static func apply(_ fixture: Fixture) -> [String] {
        [Svc2NftBinary.path, "apply"] + fixture.arguments + fixture.inputs.map { fixture.path($0) }
    }

    static func skip(_ what: String) -> Bool {
        guard let reason = TestBed.unavailableReason else { return false }
        print("SKIP \(what): \(reason)")
        return true
    }

    @Test(arguments: goldens)
    func applyListsExactlyLikeNftF(_ fixture: Fixture) throws {
        if Self.skip("apply listing \(fixture.name)") { return }
        let viaNft = try NetworkNamespace("nft")
        let viaApply = try NetworkNamespace("apply")
        let loaded = try viaNft.run(["nft", "-f", fixture.path("expected.nft")])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        let applied = try viaApply.run(Self.apply(fixture))
        #expect(applied.status == 0, "\(applied.stderr)")
        let expected = try viaNft.listOurTables()
        #expect(!expected.hasPrefix("absent"))
        #expect(try viaApply.listOurTables() == expected, "\(fixture.name): nft list differs between nft -f and apply")
    }

    /// A cluster large enough for every fast path (a List over 1 MiB: items checked in
    /// two halves and parsed where decoded; thousands of chains: the batch encoded in
    /// fragments on all cores and renumbered) lists exactly like `nft -f` of its
    /// `compile`, and a refusal deep in the batch still names its chain.
    @Test func largeClusterListsExactlyLikeNftF() throws {
        if Self.skip("large cluster listing") { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-large-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var items: [String] = []
        for i in 0..<1800 {
            let (ns, name) = ("team-\(i % 7)", "svc-\(i)")
            let node = i % 10 >= 7 ? #", "nodePort": \#(30000 + i)"# : ""
            items.append(
                """
                {
                        "apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "\(ns)", "name": "\(name)", "uid": "u-\(i)"},
                        "spec": {"type": "\(node.isEmpty ? "ClusterIP" : "NodePort")", "clusterIP": "10.96.\(i / 256).\(i % 256)",
                                 "ports": [{"name": "http", "port": 80, "targetPort": 8080\(node)}]}
                    }
                """)
            let endpoints = (0..<3).map { k in
                #"{"addresses": ["10.128.\#(i / 64).\#((i % 64) * 4 + k)"], "conditions": {"ready": \#(k != 2 || i % 5 != 0)}}"#
            }
            items.append(
                """
                {
                        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                        "metadata": {"namespace": "\(ns)", "name": "\(name)-1", "labels": {"kubernetes.io/service-name": "\(name)"}},
                        "ports": [{"name": "http", "port": 8080}], "endpoints": [\(endpoints.joined(separator: ", "))]
                    }
                """)
        }
        let input = directory.appendingPathComponent("cluster.json")
        try
            ("{\n    \"apiVersion\": \"v1\", \"kind\": \"List\",\n    \"items\": [\n    " + items.joined(separator: ",\n    ")
            + "\n    ]\n}\n")
            .write(to: input, atomically: true, encoding: .utf8)
        #expect(try FileManager.default.attributesOfItem(atPath: input.path)[.size] as! Int > 1 << 20)
        let node = ["--node-name", "node-0", "--node-ip", "10.0.0.1", "--cluster-cidr", "10.128.0.0/9"]

        let compiled = try Svc2NftBinary.run(["compile"] + node + [input.path])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let ruleset = directory.appendingPathComponent("cluster.nft")
        try compiled.stdout.write(to: ruleset, atomically: true, encoding: .utf8)
        let viaNft = try NetworkNamespace("large-nft")
        let viaApply = try NetworkNamespace("large-apply")
        let loaded = try viaNft.run(["nft", "-f", ruleset.path])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        let applied = try viaApply.run([Svc2NftBinary.path, "apply"] + node + [input.path])
        #expect(applied.status == 0, "\(applied.stderr)")
        let expected = try viaNft.listOurTables()
        #expect(expected.components(separatedBy: "\n\tchain ").count > 4000)
        #expect(try viaApply.listOurTables() == expected, "nft list differs between nft -f and apply")

        // A real kernel refusal deep in a large batch: another tool's rule still jumps to
        // one Service's chain, so the kernel refuses to delete it (EBUSY) when the node
        // moves to another input; the error names that chain, and nothing changes.
        let doomed = try #require(Self.chainName(in: expected, startingWith: "svc-team-1/svc-1100/tcp/http_"))
        #expect(try viaApply.run(["nft", "add", "rule", "ip", "svc2nft", "nat-output", "jump", doomed]).status == 0)
        let before = try viaApply.run(["nft", "list", "ruleset"]).stdout
        let shop = Fixture.named("shop")
        let faulty = try viaApply.run([Svc2NftBinary.path, "apply"] + node + shop.inputs, in: shop.directory)
        #expect(faulty.status == 1)
        #expect(faulty.stderr.contains("chain \(doomed)"), "\(faulty.stderr)")
        #expect(faulty.stderr.contains("Service team-1/svc-1100:http"), "\(faulty.stderr)")
        #expect(try viaApply.run(["nft", "list", "ruleset"]).stdout == before, "a refused batch must leave the ruleset byte-identical")
    }

    /// The full name (with its version) of the first chain in `listing` whose name starts so.
    static func chainName(in listing: String, startingWith prefix: String) -> String? {
        for line in listing.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix("chain " + prefix) else { continue }
            return String(text.dropFirst("chain ".count).prefix { $0 != " " })
        }
        return nil
    }

    @Test func applyTwiceThenAnotherInputLeavesExactlyTheLast() throws {
        if Self.skip("apply twice") { return }
        let ns = try NetworkNamespace("twice")
        let shop = Fixture.named("shop"), other = Fixture.named("policy-cluster")
        #expect(try ns.run(Self.apply(shop)).status == 0)
        let first = try ns.listOurTables()
        #expect(try ns.run(Self.apply(shop)).status == 0)
        #expect(try ns.listOurTables() == first, "second apply of the same input changed the listing")
        #expect(try ns.run(Self.apply(other)).status == 0)
        let reference = try NetworkNamespace("ref")
        #expect(try reference.run(Self.apply(other)).status == 0)
        // Same objects, same contents; only the order of blocks may differ (kept chains stay in place).
        #expect(
            NftListing.normalized(try ns.listOurTables()) == NftListing.normalized(try reference.listOurTables()),
            "A then B must list exactly like B alone")
        #expect(try ns.run(Self.apply(shop)).status == 0)
        #expect(NftListing.normalized(try ns.listOurTables()) == NftListing.normalized(first), "B then A again must list like A")
    }

    /// A Service growing and shrinking through pick-group levels (see
    /// `Versioning.policyChain`): each apply, under `apply` and `apply --follow`, lists
    /// exactly like a fresh apply of the same input, so group chains are rewritten,
    /// renamed, created and deleted as any other chain.
    @Test func endpointGroupsGrowAndShrink() throws {
        if Self.skip("pick groups growing and shrinking") { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-groups-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sizes = [40, 20, 300, 5, 300, 17, 40]
        var files: [String] = []
        for (step, count) in sizes.enumerated() {
            let endpoints = (0..<count).map { "{\"addresses\": [\"10.244.\(($0 + step) / 250).\(($0 + step) % 250 + 1)\"]}" }
            let file = directory.appendingPathComponent("step-\(step).json").path
            // JSON, as `apply --follow` reads standard input.
            try """
            {"apiVersion": "v1", "kind": "List", "items": [
             {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "big", "name": "web"},
              "spec": {"clusterIP": "10.96.5.5", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
             {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
              "metadata": {"namespace": "big", "name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
              "ports": [{"name": "http", "port": 8080}], "endpoints": [\(endpoints.joined(separator: ", "))]}]}

            """.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        let options = ["--node-ip", "10.0.0.1", "--cluster-cidr", "10.244.0.0/16"]
        let applied = try NetworkNamespace("groups")
        for (step, file) in files.enumerated() {
            #expect(try applied.run([Svc2NftBinary.path, "apply"] + options + [file]).status == 0)
            let reference = try NetworkNamespace("groupsref")
            #expect(try reference.run([Svc2NftBinary.path, "apply"] + options + [file]).status == 0)
            let want = NftListing.normalized(try reference.listOurTables())
            #expect(want.contains("/pick") == (sizes[step] > 16))
            #expect(NftListing.normalized(try applied.listOurTables()) == want, "apply, step \(step): \(sizes[step]) endpoints")
        }

        // The same steps as watch events into one `apply --follow`.
        let followed = try NetworkNamespace("groupsfollow")
        let feed = files.dropFirst().map { "cat '\($0)'; sleep 0.3" }.joined(separator: "; ")
        let result = try followed.run([
            "sh", "-c", "(sleep 0.3; \(feed)) | '\(Svc2NftBinary.path)' apply --follow --sync-delay 50 " + options.joined(separator: " ") + " '\(files[0])'",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let reference = try NetworkNamespace("groupsfinal")
        #expect(try reference.run([Svc2NftBinary.path, "apply"] + options + [files.last!]).status == 0)
        #expect(
            NftListing.normalized(try followed.listOurTables()) == NftListing.normalized(try reference.listOurTables()),
            "apply --follow through every step:\n\(result.stderr)")
    }

    /// Issue 20: applying what the node already has sends nothing at all. `nft monitor`
    /// (the kernel's change notifications) sees no commit from it, not even an empty one,
    /// only the probe table added afterwards to show that it listens; the listing stays
    /// byte-identical.
    @Test func unchangedApplySendsNothing() throws {
        if Self.skip("unchanged apply sends nothing") { return }
        let ns = try NetworkNamespace("quiet")
        #expect(try ns.run(Self.apply(Fixture.named("shop"))).status == 0)
        let before = try ns.run(["nft", "list", "ruleset"]).stdout
        let events = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-monitor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: events) }
        let monitor = try BackgroundProcess([
            Command.which("ip")!, "netns", "exec", ns.name, "sh", "-c", "exec nft monitor > \(events.path)",
        ])
        Thread.sleep(forTimeInterval: 0.5)
        let again = try ns.run(Self.apply(Fixture.named("shop")))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("sent nothing: the kernel holds this ruleset"), "\(again.stderr)")
        #expect(try ns.run(["nft", "add", "table", "ip", "probe"]).status == 0)
        Thread.sleep(forTimeInterval: 0.5)
        _ = monitor.finish(timeout: 0)
        let seen = (try? String(contentsOf: events, encoding: .utf8)) ?? ""
        // One commit, nft's: the probe table and its generation ("# new generation 5 by process 123 (nft)").
        let lines = seen.split(separator: "\n").map(String.init)
        #expect(
            lines.count == 2 && lines[0] == "add table ip probe" && lines[1].hasPrefix("# new generation ") && lines[1].hasSuffix(" (nft)"),
            "the kernel saw:\n\(seen)")
        #expect(try ns.run(["nft", "delete", "table", "ip", "probe"]).status == 0)
        #expect(try ns.run(["nft", "list", "ruleset"]).stdout == before)
    }

    /// Issue 18's restart: an apply of the ruleset the last apply installed, with no
    /// commit by anyone since (the kernel's generation unchanged, `AppliedRecord`),
    /// does not read the kernel back. Any other commit, or another input, and it reads
    /// and applies as usual.
    @Test func anUnchangedGenerationIsNotReadBack() throws {
        if Self.skip("applied record") { return }
        let ns = try NetworkNamespace("record")
        let shop = Fixture.named("shop"), other = Fixture.named("clusterip-basic")
        func apply(_ fixture: Fixture) throws -> String {
            let result = try ns.run(Self.apply(fixture))
            #expect(result.status == 0, "\(result.stderr)")
            return result.stderr
        }
        let trusted = "unchanged since the last apply, nothing read back"
        #expect(!(try apply(shop)).contains(trusted), "a fresh install records nothing")
        #expect(!(try apply(shop)).contains(trusted), "the first re-apply reads the kernel, then records")
        let third = try apply(shop)
        #expect(third.contains("sent nothing") && third.contains(trusted), "\(third)")
        #expect(try ns.run(["nft", "add", "table", "ip", "other"]).status == 0)
        let afterForeign = try apply(shop)
        #expect(afterForeign.contains("sent nothing") && !afterForeign.contains(trusted), "another commit: read back\n\(afterForeign)")
        #expect(try apply(shop).contains(trusted))
        // Same generation, another ruleset: applied, not skipped.
        let changed = try apply(other)
        #expect(!changed.contains("sent nothing"), "\(changed)")
        let reference = try NetworkNamespace("recordref")
        #expect(try reference.run(Self.apply(other)).status == 0)
        #expect(NftListing.normalized(try ns.listOurTables()) == NftListing.normalized(try reference.listOurTables()))
    }

    /// A real kernel refusal: another tool's rule (added with nft) jumps to one of
    /// shop's chains, which the next input no longer has, so the kernel refuses to delete
    /// it (EBUSY). The refused batch changes nothing and its error names the chain and
    /// Service. (A refused fresh install is `BatchTests`' job, on `NftFake`.)
    @Test func refusedBatchChangesNothingAndNamesTheObject() throws {
        if Self.skip("refused batch") { return }
        let ns = try NetworkNamespace("fault")
        #expect(try ns.run(Self.apply(Fixture.named("shop"))).status == 0)
        let doomed = try #require(Self.chainName(in: try ns.listOurTables(), startingWith: "svc-shop/web/tcp/http_"))
        #expect(try ns.run(["nft", "add", "rule", "ip", "svc2nft", "nat-output", "jump", doomed]).status == 0)
        let before = try ns.run(["nft", "list", "ruleset"]).stdout
        let result = try ns.run(Self.apply(Fixture.named("policy-cluster")))
        #expect(result.status == 1)
        #expect(result.stderr.contains("chain \(doomed)"), "\(result.stderr)")
        #expect(result.stderr.contains("Service shop/web:http"), "\(result.stderr)")
        #expect(try ns.run(["nft", "list", "ruleset"]).stdout == before, "a refused batch must leave the ruleset byte-identical")
    }

    /// Invalid input never reaches the kernel: exit 2, the same message as compile, and
    /// the ruleset that was there stays as it was.
    @Test(arguments: ["bad-port", "hostile-name", "hostile-port-name", "bad-yaml-syntax"])
    func badInputIsRefusedBeforeTheKernel(_ name: String) throws {
        if Self.skip("bad input \(name)") { return }
        let ns = try NetworkNamespace("bad")
        #expect(try ns.run(Self.apply(Fixture.named("shop"))).status == 0)
        let before = try ns.run(["nft", "list", "ruleset"]).stdout
        let fixture = Fixture.named(name)
        let result = try ns.run([Svc2NftBinary.path, "apply"] + fixture.arguments + fixture.inputs, in: fixture.directory)
        #expect(result.status == 2)
        #expect(result.stderr == fixture.read("expected.stderr"), "apply and compile must report bad input alike")
        #expect(try ns.run(["nft", "list", "ruleset"]).stdout == before)
    }

    /// `nft -j` reads every fixture's netlink-written tables without a warning.
    @Test(arguments: goldens)
    func nftReadsApplyAsJSON(_ fixture: Fixture) throws {
        if Self.skip("nft -j \(fixture.name)") { return }
        let ns = try NetworkNamespace("json")
        let applied = try ns.run(Self.apply(fixture))
        #expect(applied.status == 0, "\(applied.stderr)")
        let json = try ns.run(["nft", "-j", "list", "ruleset"])
        #expect(json.status == 0 && json.stderr.isEmpty, "\(fixture.name): \(json.stderr)")
        #expect((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) != nil, "\(fixture.name): not JSON")
    }

    @Test func foreignTablesAreNeverTouched() throws {
        if Self.skip("foreign tables") { return }
        let ns = try NetworkNamespace("foreign")
        let foreign = """
            table inet firewalld {
            \tchain filter_INPUT {
            \t\ttype filter hook input priority 10; policy accept;
            \t\ttcp dport 22 accept
            \t\tcounter packets 0 bytes 0
            \t}
            }
            table ip nat {
            \tchain DOCKER {
            \t\tiifname "docker0" return
            \t}
            }
            table inet svc2nft {
            \tset same-name-other-family {
            \t\ttype ipv4_addr
            \t\telements = { 10.1.1.1 }
            \t}
            }
            table ip admin {
            \tset blocked {
            \t\ttype ipv4_addr
            \t\tflags interval
            \t\tcomment "written by nft, with user data"
            \t\telements = { 192.0.2.0/24 comment "documentation range" }
            \t}
            \tchain input {
            \t\ttype filter hook input priority 20; policy accept;
            \t\tip saddr @blocked counter packets 0 bytes 0 drop comment "admin's rule"
            \t}
            }
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-foreign-\(getpid()).nft").path
        try foreign.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try ns.run(["nft", "-f", file]).status == 0)
        func snapshot() throws -> String {
            try ["inet firewalld", "ip nat", "inet svc2nft", "ip admin"].map {
                try ns.run(["nft", "list", "table"] + $0.split(separator: " ").map(String.init)).stdout
            }.joined()
        }
        let before = try snapshot()
        #expect(before.contains("tcp dport 22 accept"))
        #expect(try ns.run(Self.apply(Fixture.named("shop"))).status == 0)
        #expect(try snapshot() == before, "apply touched a foreign table")
        // nft reads our netlink-written tables beside its own, without a warning, as text
        // and as JSON.
        let text = try ns.run(["nft", "list", "ruleset"])
        #expect(text.status == 0 && text.stderr.isEmpty, "\(text.stderr)")
        #expect(text.stdout.contains("table ip svc2nft") && text.stdout.contains("comment \"documentation range\""))
        let json = try ns.run(["nft", "-j", "list", "ruleset"])
        #expect(json.status == 0 && json.stderr.isEmpty, "\(json.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let tables = (parsed?["nftables"] as? [[String: Any]] ?? []).compactMap { $0["table"] as? [String: Any] }
        #expect(Set(tables.map { "\($0["family"] ?? "") \($0["name"] ?? "")" }).isSuperset(of: ["ip svc2nft", "ip6 svc2nft", "ip admin"]))
        #expect(try ns.run([Svc2NftBinary.path, "delete"]).status == 0)
        #expect(try snapshot() == before, "delete touched a foreign table")
        #expect(try ns.listOurTables().hasPrefix("absent"))
        // delete succeeds when our tables are already gone.
        #expect(try ns.run([Svc2NftBinary.path, "delete"]).status == 0)
    }

    @Test func withoutCapNetAdminOneClearLine() throws {
        if Self.skip("not root") { return }
        guard let setpriv = Command.which("setpriv") else {
            print("SKIP not-root apply: setpriv is not installed")
            return
        }
        let ns = try NetworkNamespace("noroot")
        let result = try ns.run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"] + Self.apply(Fixture.named("shop")))
        #expect(result.status == 1, "\(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("needs root or CAP_NET_ADMIN") == true, "\(result.stderr)")
        #expect(try ns.listOurTables().hasPrefix("absent"))
    }
}
