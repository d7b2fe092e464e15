import Foundation
import Svc2NftTestSupport
import Testing

/// `run` owns its tables where the kernel keeps owned tables after exit (`TableOwnership`):
/// others' `nft flush ruleset` skips them and `nft delete table` is refused while it
/// runs, so Services never stop answering; after the agent exits they stay, and the next
/// agent owns them again. A table made by `svc2nft apply` cannot be owned: the agent says
/// so and falls back to repairing.
@Suite(.serialized) struct TableOwnershipTests {
    static func skip(_ what: String) -> Bool { APIServerDoubleTests.skip(what) }

    /// Whether this kernel has `NFT_TABLE_F_PERSIST` (the agent's log says so at start).
    static func owning(_ bed: AgentBed) -> Bool {
        !bed.log.contains("cannot keep owned tables after exit")
    }

    @Test func ownedTablesSurviveFlushRulesetAndRefuseDeletion() throws {
        if Self.skip("run: owned tables") { return }
        let bed = try RunAgentTests.bed()
        try bed.startAPI()
        try bed.startAgent(["--sync-period", "1h"])
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        guard Self.owning(bed) else {
            print("SKIP owned tables: this kernel has no NFT_TABLE_F_PERSIST (Linux 6.9+)")
            return
        }
        let before = try bed.node.listOurTables()
        #expect(before.contains("flags owner"), "\(before)")

        #expect(try bed.node.run(["nft", "flush", "ruleset"]).status == 0, "flush ruleset works for others' tables")
        #expect(try bed.get("10.96.0.10") == "10.244.1.5", "an owned table is skipped by flush ruleset: no outage at all")
        #expect(try bed.node.listOurTables() == before)
        let deleted = try bed.node.run(["nft", "delete", "table", "ip", "svc2nft"])
        #expect(deleted.status != 0 && deleted.stderr.contains("Operation not permitted"), "\(deleted.stderr)")
        #expect(try bed.node.listOurTables() == before)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!bed.log.contains("foreign change"), "nothing of ours changed, nothing to repair:\n\(bed.log)")

        // The agent exits: the rules stay (unowned), Services answer, and the next agent owns them again.
        #expect(bed.stopAgent() == 0)
        let orphan = try bed.node.listOurTables()
        #expect(!orphan.contains("flags owner") && orphan.contains("svc-default/web"), "\(orphan)")
        #expect(try bed.get("10.96.0.10") == "10.244.1.5")
        try bed.startAgent(["--sync-period", "1h"])
        #expect(bed.eventually { bed.log.contains("tables owned") && bed.log.contains("applied") }, "\(bed.log)")
        #expect(!bed.log.contains("cannot own"), "\(bed.log)")
        #expect(bed.log.contains("sent nothing: the kernel holds this ruleset"), "the restart sent something:\n\(bed.log)")
        #expect(try bed.eventually { try bed.node.listOurTables().contains("flags owner") })
        #expect(try bed.node.run(["nft", "flush", "ruleset"]).status == 0)
        #expect(try bed.get("10.96.0.10") == "10.244.1.5")
    }

    @Test func aTableMadeByApplyStaysUnownedAndIsRepaired() throws {
        if Self.skip("run: a table made by apply") { return }
        let bed = try RunAgentTests.bed()
        let shop = Fixture.named("shop")
        let applied = try bed.node.run([Svc2NftBinary.path, "apply"] + shop.arguments + shop.inputs.map { shop.path($0) })
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try bed.node.listOurTables().contains("svc-shop/web"))
        try bed.startAPI()
        try bed.startAgent(["--sync-period", "1h"])
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "\(bed.log)")
        guard Self.owning(bed) else { return }
        // The shop fixture serves 10.96.0.10 too, so the address answers before the agent logs anything.
        #expect(bed.eventually { bed.log.contains("applied") }, "\(bed.log)")
        #expect(bed.log.contains("cannot own table ip svc2nft: it was made without the persist flag"), "\(bed.log)")
        #expect(try bed.node.run(["nft", "flush", "ruleset"]).status == 0)
        #expect(try bed.eventually { try bed.get("10.96.0.10") == "10.244.1.5" }, "repaired instead:\n\(bed.log)")
        #expect(bed.log.contains("deleted; repairing"), "\(bed.log)")
        #expect(try bed.eventually { try bed.node.listOurTables().contains("flags owner") }, "the repair creates them owned")
    }
}
