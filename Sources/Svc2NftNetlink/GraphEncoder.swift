import Svc2NftCore

/// Rule graph or table changes -> the netlink transactions of one apply. Planning is
/// `KernelStateDiff` (graph against the kernel's state) or `IncrementalLowering`
/// (against the previous lowering); encoding is `ChangeEncoder`, for both.
public enum GraphEncoder {
    /// The transactions of one apply, in the order they are sent (one, none when nothing
    /// changed, or a `FreshInstall`'s several), and what they do to chains.
    public struct Plan: Sendable {
        public let batches: [FinalizedBatch]
        public var created = 0
        public var rewritten = 0
        public var deleted = 0

        public var messageCount: Int { batches.reduce(0) { $0 + $1.messageCount } }
        public var byteCount: Int { batches.reduce(0) { $0 + $1.byteCount } }

        /// "1 transaction, 120 messages: 3 chains created, 2 rewritten in place, 3 deleted",
        /// or "nothing: the kernel holds this ruleset" when no transaction was needed.
        public var summary: String {
            if batches.isEmpty { return "nothing: the kernel holds this ruleset" }
            let transactions = batches.count == 1 ? "1 transaction" : "\(batches.count) transactions"
            return
                "\(transactions), \(messageCount) messages: \(created) chains created, \(rewritten) rewritten in place, \(deleted) deleted"
        }
    }

    /// `graph` over what the kernel holds now, per family (absent: no such table).
    /// `edited` names kept chains and sets whose live contents differ from their name
    /// (changed behind svc2nft's back; `apply --repair`): they are rewritten.
    /// `owned`: tables it creates are owned by the sending socket (`TableOwnership`).
    public static func plan(
        _ graph: RuleGraph, current: [TableFamily: TableState] = [:], edited: [TableFamily: Set<String>] = [:], owned: Bool = false
    ) -> Plan {
        let changes = graph.tables.map { table in
            current[table.family].map { KernelStateDiff.change(to: table, from: $0, edited: edited[table.family] ?? []) }
                ?? .creating(table)
        }
        let handles = current.mapValues(\.handles)
        return plan(changes, handles: handles, owned: owned)
    }

    /// One transaction for `changes` (none if they are all empty). `handles` gives the
    /// kernel handle of each renamed chain's old version.
    public static func plan(_ changes: [TableChange], handles: [TableFamily: [String: UInt64]], owned: Bool = false) -> Plan {
        var batch = Batch()
        var tally = ChangeEncoder.Tally()
        for change in changes {
            ChangeEncoder.encode(change, handles: handles[change.family] ?? [:], owned: owned, into: &batch, tally: &tally)
        }
        guard batch.messageCount > 0 else { return Plan(batches: []) }
        return Plan(batches: [batch.finalize()], created: tally.created, rewritten: tally.rewritten, deleted: tally.deleted)
    }

    /// Deletes our tables; succeeds when they are absent (each is added first).
    public static func deleteBatch(tableName: String) -> FinalizedBatch {
        var batch = Batch()
        for family in [TableFamily.ip, .ip6] {
            Messages.addTable(family, tableName, comment: nil, into: &batch)
            Messages.deleteTable(family, tableName, into: &batch)
        }
        return batch.finalize()
    }
}
