import Foundation
import Svc2NftTestSupport
import Testing

/// `svc2nft run` end to end: the agent in a node namespace watches the API server
/// double; Services and slices changed through the double reach real packets within a
/// sync, across cut connections, `410 Gone`, an API server that is down at start, and a
/// Service that arrives before its slices.
@Suite(.serialized) struct RunAgentTests {
    static func skip(_ what: String) -> Bool { APIServerDoubleTests.skip(what) }

    /// The double holds web (10.96.0.10:80 -> 10.244.1.5:8080) and the Node.
    static func bed(withoutServiceCIDRs: Bool = false) throws -> AgentBed {
        let bed = try AgentBed(withoutServiceCIDRs: withoutServiceCIDRs)
        bed.double.put(KubeObjects.node("node-a", internalIP: "192.168.1.10"))
        bed.double.put(KubeObjects.service("web", clusterIP: "10.96.0.10"))
        bed.double.put(KubeObjects.slice("web-1", service: "web", addresses: ["10.244.1.5"]))
        return bed
    }

    @Test func changesThroughTheAPIReachPackets() throws {
        if Self.skip("run: changes reach packets") { return }
        // An API server without ServiceCIDRs (before 1.33): 404 for them is no failure.
        let bed = try Self.bed(withoutServiceCIDRs: true)
        try bed.startAPI()
        try bed.startAgent()
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")

        bed.double.put(KubeObjects.slice("web-1", service: "web", addresses: ["10.244.1.6"]))
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.6" }, "\(bed.log)")

        // An object the API server would not hold is skipped with a warning; the agent goes on.
        var bad = KubeObjects.service("broken", clusterIP: "10.96.0.30")
        bad["spec"] = ["clusterIP": "10.96.0.30", "ports": [["port": 70000, "protocol": "TCP"]]]
        bed.double.put(bad)
        bed.double.put(KubeObjects.service("api", clusterIP: "10.96.0.11"))
        bed.double.put(KubeObjects.slice("api-1", service: "api", addresses: ["10.244.1.5"]))
        #expect(try bed.eventually { try bed.get("10.96.0.11") == "10.244.1.5" }, "\(bed.log)")
        #expect(bed.log.contains("default/broken"), "the invalid Service is named in a warning:\n\(bed.log)")
        #expect(bed.agentIsRunning)

        bed.double.delete(kind: "Service", name: "web")
        #expect(try bed.eventually { try bed.get("10.96.0.10") == nil }, "\(bed.log)")
        #expect(try bed.get("10.96.0.11") == "10.244.1.5")

        // SIGTERM: exit 0, the rules stay (as kube-proxy leaves them).
        #expect(bed.stopAgent() == 0, "\(bed.log)")
        #expect(try bed.node.listTable("ip").contains("10.96.0.11 . tcp . 80"))
        #expect(try bed.get("10.96.0.11") == "10.244.1.5")
    }

    @Test func cutWatchesAndGoneVersionsConverge() throws {
        if Self.skip("run: cut watches and 410") { return }
        let bed = try Self.bed()
        try bed.startAPI()
        try bed.startAgent()
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        #expect(try bed.eventually { bed.double.openWatches == 4 }, "services, slices, ServiceCIDRs, the Node:\n\(bed.log)")

        bed.double.cutWatches()
        bed.double.put(KubeObjects.slice("web-1", service: "web", addresses: ["10.244.1.6"]))
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.6" }, "after a cut watch:\n\(bed.log)")

        // Watches cut, a change made meanwhile (web moved back), history compacted past it
        // before the agent retries (its backoff starts at 800 ms): every watch's version is
        // now too old, the next watch gets 410, and the change arrives with a new list.
        // (Compacting first raced with bookmarks: a watch whose bookmark had reached the
        // newest version could resume without a 410.)
        bed.double.cutWatches()
        bed.double.put(KubeObjects.slice("web-1", service: "web", addresses: ["10.244.1.5"]))
        bed.double.compact()
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "after 410:\n\(bed.log)")
        #expect(bed.log.contains("listing again"), "\(bed.log)")
        #expect(bed.agentIsRunning)
    }

    @Test func nothingIsTouchedBeforeTheFirstCompleteList() throws {
        if Self.skip("run: API down at start") { return }
        let bed = try Self.bed()
        // Rules already on the node: an old Service the cluster no longer has.
        let file = bed.certificates.directory.appendingPathComponent("old.json")
        let old = KubeObjects.service("old", clusterIP: "10.96.0.20")
        try JSONSerialization.data(withJSONObject: old).write(to: file)
        let applied = try bed.node.run([Svc2NftBinary.path, "apply", "--cluster-cidr", "10.244.0.0/16", file.path])
        #expect(applied.status == 0, "\(applied.stderr)")
        let before = try bed.node.listOurTables()

        try bed.startAgent()
        // A refused connection fails a list after the connect timeout (5 s); it is retried.
        #expect(bed.eventually(15) { bed.log.contains("list of services failed") }, "the agent retries:\n\(bed.log)")
        #expect(try bed.node.listOurTables() == before, "the agent changed rules before any list:\n\(bed.log)")
        #expect(bed.agentIsRunning)

        // The API answers, but EndpointSlices fail: Services alone are half a view (web
        // would lose its endpoints), so still nothing is applied.
        bed.double.refuse("EndpointSlice")
        try bed.startAPI()
        #expect(bed.eventually(15) { bed.log.contains("listed services") && bed.log.contains("list of endpointslices failed") }, "\(bed.log)")
        #expect(try bed.node.listOurTables() == before, "the agent applied a partial view:\n\(bed.log)")

        bed.double.refuse("EndpointSlice", false)
        #expect(try bed.eventually(15) { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        #expect(try !bed.node.listTable("ip").contains("10.96.0.20"), "the old Service's rules are gone")
    }

    @Test func aServiceBeforeItsSlicesLeavesOthersWorking() throws {
        if Self.skip("run: Service before slices") { return }
        let bed = try Self.bed()
        try bed.startAPI()
        try bed.startAgent()
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")

        bed.double.put(KubeObjects.service("late", clusterIP: "10.96.0.12"))
        // No endpoints yet: rejected (connection refused), and web still answers.
        #expect(try bed.eventually { try bed.curlStatus("10.96.0.12") == 7 }, "\(bed.log)")
        #expect(try bed.get("10.96.0.10") == "10.244.1.5")
        bed.double.put(KubeObjects.slice("late-1", service: "late", addresses: ["10.244.1.6"]))
        #expect(try bed.eventually { try bed.get("10.96.0.12") == "10.244.1.6" }, "\(bed.log)")
    }

    @Test func oneAgentPerNode() throws {
        if Self.skip("run: node lock") { return }
        let bed = try Self.bed()
        try bed.startAPI()
        try bed.startAgent()
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        let file = bed.certificates.directory.appendingPathComponent("web.json")
        try JSONSerialization.data(withJSONObject: KubeObjects.service("web", clusterIP: "10.96.0.10")).write(to: file)
        for argv in [["apply", file.path], ["delete"]] {
            let second = try bed.node.run([Svc2NftBinary.path] + argv)
            #expect(second.status == 1, "\(argv): \(second.stderr)")
            #expect(second.stderr.contains("another svc2nft"), "\(second.stderr)")
        }
        #expect(try bed.get("10.96.0.10") == "10.244.1.5", "the agent's rules are untouched")
    }

    @Test func serviceCIDRObjectsDropUnallocatedAddresses() throws {
        if Self.skip("run: ServiceCIDR objects") { return }
        let bed = try Self.bed()
        try bed.startAPI()
        try bed.startAgent()
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        #expect(try bed.get("10.96.0.99") == "10.96.0.99", "without a Service CIDR the unallocated address is reached")

        let cidr: [String: Any] = ["kind": "ServiceCIDR", "metadata": ["name": "kubernetes"], "spec": ["cidrs": ["10.96.0.0/16"]]]
        bed.double.put(cidr)
        #expect(try bed.eventually { try bed.node.listTable("ip").contains("drop traffic to unallocated ClusterIPs") }, "\(bed.log)")
        #expect(try bed.get("10.96.0.99") == nil, "an unallocated address inside the ServiceCIDR is dropped")
        #expect(try bed.get("10.96.0.10") == "10.244.1.5", "a Service inside it still answers")

        bed.double.delete(kind: "ServiceCIDR", namespace: nil, name: "kubernetes")
        #expect(try bed.eventually { try bed.get("10.96.0.99") == "10.96.0.99" }, "\(bed.log)")
    }

    /// The first complete view has no Services, but the node's tables hold some: refused
    /// (a cluster cannot be without its `kubernetes` Service; this is a wrong selector or
    /// a wrong cluster), unless `--allow-empty`.
    @Test func anEmptyFirstViewIsRefusedUnlessAllowed() throws {
        if Self.skip("run: empty first view") { return }
        let bed = try AgentBed()
        bed.double.put(KubeObjects.node("node-a", internalIP: "192.168.1.10"))
        let file = bed.certificates.directory.appendingPathComponent("old.json")
        let old: [String: Any] = [
            "kind": "List",
            "items": [KubeObjects.service("old", clusterIP: "10.96.0.20"), KubeObjects.slice("old-1", service: "old", addresses: ["10.244.1.5"])],
        ]
        try JSONSerialization.data(withJSONObject: old).write(to: file)
        #expect(try bed.node.run([Svc2NftBinary.path, "apply", file.path]).status == 0)
        let before = try bed.node.listOurTables()

        try bed.startAPI()
        try bed.startAgent()
        #expect(bed.eventually { bed.log.contains("lists no Services") }, "\(bed.log)")
        #expect(try bed.node.listOurTables() == before, "an empty view removed the node's Services:\n\(bed.log)")
        #expect(bed.stopAgent() == 0)

        try bed.startAgent(["--allow-empty"])
        #expect(try bed.eventually { try !bed.node.listTable("ip").contains("10.96.0.20") }, "\(bed.log)")
    }
}
