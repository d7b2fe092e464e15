import Foundation
import Svc2NftTestSupport
import Testing

/// Restarting `run` on an unchanged cluster creates, rewrites and deletes no chain, leaves
/// the listing byte-identical, and deletes no conntrack entry, so a rollout of the
/// DaemonSet costs the node's traffic nothing. (Its first sync still refills the
/// dispatch maps with the same elements: sending nothing at all needs the kernel's
/// generation recorded across restarts, issue 18.)
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
        let before = try bed.node.listOurTables()
        #expect(bed.stopAgent() == 0)

        try bed.startAgent()
        #expect(bed.eventually { bed.log.contains("applied (full)") }, "\(bed.log)")
        let first = bed.log.split(separator: "\n").first { $0.contains("applied (full)") } ?? ""
        #expect(first.contains("0 chains created, 0 rewritten in place, 0 deleted"), "the restart changed chains: \(first)")
        #expect(bed.log.contains("conntrack: removed 0 stale"), "the restart looked at conntrack and deleted nothing:\n\(bed.log)")
        #expect(try bed.node.listOurTables() == before)
        #expect(try bed.get("10.96.0.10") == "10.244.1.5")
    }
}
