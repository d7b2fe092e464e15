import Foundation
import Svc2NftTestSupport
import Testing

/// Restarting `run` on an unchanged cluster sends nothing to the kernel (its first full
/// sync reads the tables, chains, sets and dispatch-map elements and finds nothing to
/// change), leaves the listing byte-identical, and deletes no conntrack entry, so a
/// rollout of the DaemonSet costs the node's traffic nothing. The agent that exits
/// gracefully records the kernel's generation (`AppliedRecord`), so the next one takes
/// its tables back and does not even read them.
@Suite struct RunRestartTests {
    @Test func aRestartOnAnUnchangedClusterChangesNothing() throws {
        if RunAgentTests.skip("run: quiet restart") { return }
        let bed = try RunAgentTests.bed()
        // A UDP Service too, so that the conntrack cleanup has something to look at.
        bed.double.put(KubeObjects.service("dns", clusterIP: "10.96.0.53", port: 53, targetPort: 53, protocol: "UDP"))
        bed.double.put(KubeObjects.slice("dns-1", service: "dns", addresses: ["10.244.1.6"], port: 53, protocol: "UDP"))
        try bed.startAPI()
        try bed.startAgent()
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        // A UDP flow of the node's own to the DNS Service: a conntrack entry the restart must keep.
        let send = try bed.node.run([
            "python3", "-c",
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 40053)); s.sendto(b'x', ('10.96.0.53', 53))",
        ])
        #expect(send.status == 0, "\(send.stderr)")
        func dnsEntries() throws -> [String] {
            try bed.node.run(["cat", "/proc/net/nf_conntrack"]).stdout.split(separator: "\n").map(String.init)
                .filter { $0.contains("dst=10.96.0.53") && $0.contains("sport=40053") }
        }
        #expect(try dnsEntries().count == 1, "the datagram made a conntrack entry")
        let before = try bed.node.listOurTables()
        #expect(bed.stopAgent() == 0)

        try bed.startAgent()
        #expect(bed.eventually { bed.log.contains("applied (full)") }, "\(bed.log)")
        let first = bed.log.split(separator: "\n").first { $0.contains("applied (full)") } ?? ""
        #expect(first.contains("sent nothing: the kernel holds this ruleset"), "the restart sent something: \(first)")
        #expect(first.contains("unchanged since the last apply, nothing read back"), "the restart read the kernel back: \(first)")
        #expect(bed.log.contains("conntrack: removed 0 stale"), "the restart looked at conntrack and deleted nothing:\n\(bed.log)")
        #expect(try dnsEntries().count == 1, "the restart kept the UDP flow's conntrack entry")
        #expect(try bed.node.listOurTables() == before)
        #expect(try bed.get("10.96.0.10") == "10.244.1.5")

        // Another tool's commit while no agent runs: the next one reads the kernel back.
        #expect(bed.stopAgent() == 0)
        #expect(try bed.node.run(["nft", "add", "table", "ip", "other"]).status == 0)
        try bed.startAgent()
        #expect(bed.eventually { bed.log.contains("applied (full)") }, "\(bed.log)")
        let third = bed.log.split(separator: "\n").first { $0.contains("applied (full)") } ?? ""
        #expect(third.contains("sent nothing") && !third.contains("nothing read back"), "\(third)")
    }
}
