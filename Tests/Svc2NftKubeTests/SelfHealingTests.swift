import Foundation
import Svc2NftTestSupport
import Testing

/// `svc2nft run` repairs what others do to its tables: the kernel's nftables
/// notifications name each foreign transaction, and the agent restores the rules at once.
/// `--sync-period 1h` keeps the periodic repair from doing the monitor's job, and
/// `--no-own-tables` lets others change the tables (owned ones: `TableOwnershipTests`).
@Suite(.serialized) struct SelfHealingTests {
    static func skip(_ what: String) -> Bool { APIServerDoubleTests.skip(what) }

    /// web (10.96.0.10 -> 10.244.1.5) served by an agent that has synced; its listing.
    static func serving() throws -> (AgentBed, String) {
        let bed = try RunAgentTests.bed()
        try bed.startAPI()
        try bed.startAgent(["--sync-period", "1h", "--no-own-tables"])
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        return (bed, NftListing.normalized(try bed.node.listOurTables()))
    }

    static func metric(_ bed: AgentBed, _ name: String) throws -> Int? {
        let body = try bed.node.run(["curl", "-s", "-m", "2", "http://127.0.0.1:10249/metrics"]).stdout
        let line = body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") }
    }

    @Test func flushRulesetIsRepaired() throws {
        if Self.skip("run: nft flush ruleset repaired") { return }
        let (bed, before) = try Self.serving()
        #expect(try bed.node.run(["nft", "flush", "ruleset"]).status == 0)
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        #expect(bed.log.contains("foreign change by nft (pid "), "\(bed.log)")
        #expect(bed.log.contains("tables ip svc2nft, ip6 svc2nft deleted; repairing"), "\(bed.log)")
        #expect(NftListing.normalized(try bed.node.listOurTables()) == before)
        #expect(try Self.metric(bed, "svc2nft_foreign_changes_total") == 1, "\(bed.log)")
        #expect(try bed.eventually { try Self.metric(bed, "svc2nft_repairs_total") == 1 }, "\(bed.log)")

        // Flushed again right after the repair: that repair waits for --min-sync-period, and comes.
        #expect(try bed.node.run(["nft", "flush", "ruleset"]).status == 0)
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        #expect(try bed.eventually { try Self.metric(bed, "svc2nft_repairs_total") == 2 }, "\(bed.log)")
    }

    @Test func deletedTableIsRepaired() throws {
        if Self.skip("run: deleted table repaired") { return }
        let (bed, before) = try Self.serving()
        #expect(try bed.node.run(["nft", "delete", "table", "ip", "svc2nft"]).status == 0)
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        #expect(bed.log.contains("foreign change by nft (pid "), "\(bed.log)")
        #expect(bed.log.contains(": table ip svc2nft deleted; repairing"), "\(bed.log)")
        #expect(NftListing.normalized(try bed.node.listOurTables()) == before)
    }

    @Test func deletedRuleIsRepaired() throws {
        if Self.skip("run: deleted rule repaired") { return }
        let (bed, before) = try Self.serving()
        // The first rule of web's endpoint chain (its DNAT): without it web stops answering.
        let listing = try bed.node.run(["nft", "-a", "list", "table", "ip", "svc2nft"]).stdout
        var chain: String? = nil
        var target: (chain: String, handle: String)? = nil
        for line in listing.split(separator: "\n") {
            let words = line.split(separator: " ")
            if line.hasPrefix("\tchain "), words.count >= 2 { chain = String(words[1]) }
            if target == nil, let chain, chain.hasPrefix("endpoint-") || chain.hasPrefix("ep-"), chain.contains("web"),
                line.contains("dnat"), let handle = words.last
            {
                target = (chain, String(handle))
            }
        }
        guard let target else {
            Issue.record("no DNAT rule for web in:\n\(listing)")
            return
        }
        let deleted = try bed.node.run(["nft", "delete", "rule", "ip", "svc2nft", target.chain, "handle", target.handle])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(try bed.eventually { try NftListing.normalized(bed.node.listOurTables()) == before }, "\(bed.log)")
        #expect(try bed.get("10.96.0.10") == "10.244.1.5")
        #expect(bed.log.contains("1 rule deleted in chain \(target.chain); repairing"), "\(bed.log)")
    }

    @Test func ownSyncsAreNotRepairs() throws {
        if Self.skip("run: own syncs are not foreign") { return }
        let (bed, _) = try Self.serving()
        bed.double.put(KubeObjects.slice("web-1", service: "web", addresses: ["10.244.1.6"]))
        bed.double.put(KubeObjects.service("api", clusterIP: "10.96.0.11"))
        bed.double.put(KubeObjects.slice("api-1", service: "api", addresses: ["10.244.1.5"]))
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.6" && bed.get("10.96.0.11") == "10.244.1.5" }, "\(bed.log)")
        // Another table changed by someone else is none of our business either.
        #expect(try bed.node.run(["nft", "add", "table", "ip", "other"]).status == 0)
        Thread.sleep(forTimeInterval: 1)
        #expect(!bed.log.contains("foreign change"), "\(bed.log)")
        #expect(try Self.metric(bed, "svc2nft_foreign_changes_total") == 0, "\(bed.log)")
    }
}
