import Foundation
import Svc2NftCore

/// What `apply` sent.
public struct Applied: Sendable {
    public let plan: GraphEncoder.Plan
}

/// Installs a rule graph, or deletes our tables, through a transport (one transaction,
/// except for a `FreshInstall`), and turns the kernel's first error into an
/// `ApplyError` naming the graph object.
public struct Applier {
    let transport: NetfilterTransport
    /// Tables this applier creates are owned by its socket and persistent (`TableOwnership`).
    public let ownsTables: Bool

    public init(transport: NetfilterTransport, ownsTables: Bool = false) {
        self.transport = transport
        self.ownsTables = ownsTables
    }

    /// Replaces our tables with `graph`: reads what the kernel has, then sends the
    /// `GraphEncoder.Plan`, one transaction (where the kernel has none of our tables
    /// yet: a `FreshInstall` of the graph in parts). Returns what it sent. With
    /// `repair`, also reads the live rules and elements (as `diff` does) and rewrites
    /// kept chains and maps that were edited behind svc2nft's back.
    @discardableResult
    public func apply(_ graph: RuleGraph, repair: Bool = false, fault: GraphEncoder.Fault? = nil) throws(ApplyError) -> Applied {
        let current = try kernelState(of: graph.tables.map { ($0.family, $0.name) })
        if current.isEmpty, !graph.tables.isEmpty {
            return try installFresh(fault: fault) { part in GraphPart.forEachPart(of: graph, runs: 4, part) }
        }
        return try update(graph, current: current, repair: repair, fault: fault)
    }

    /// The netlink port id our commits are sent from (nil for a transport without a socket):
    /// `RulesetMonitor` tells our own changes from others' by it.
    public var portID: UInt32? { (transport as? MNLTransport)?.portID }

    /// Whether the kernel has any of these tables (without reading their chains).
    public func hasAny(of tables: [(TableFamily, String)]) throws(ApplyError) -> Bool {
        for (family, name) in tables where try transport.exists(family, table: name) { return true }
        return false
    }

    /// What the kernel has of these tables (names of chains and sets, no rules); a table
    /// it does not have is left out.
    public func kernelState(of tables: [(TableFamily, String)]) throws(ApplyError) -> [TableFamily: TableState] {
        var current: [TableFamily: TableState] = [:]
        for (family, name) in tables {
            current[family] = try transport.state(of: family, table: name)
        }
        return current
    }

    /// Sends the one transaction that turns `current` (read with `kernelState`) into `graph`.
    @discardableResult
    public func update(
        _ graph: RuleGraph, current: [TableFamily: TableState], repair: Bool = false, fault: GraphEncoder.Fault? = nil
    ) throws(ApplyError) -> Applied {
        var edited: [TableFamily: Set<String>] = [:]
        for table in graph.tables {
            if repair, current[table.family] != nil, let reader = transport as? NetfilterReader,
                let live = try reader.live(table.family, table: table.name)
            {
                let expected = LiveTable.expected(table)
                let chains = expected.chains.filter { name, want in live.chains[name].map { $0 != want } ?? false }.keys
                let sets = expected.sets.filter { name, want in live.sets[name].map { $0 != want } ?? false }.keys
                edited[table.family] = Set(chains).union(sets)
            }
        }
        return try send(GraphEncoder.plan(graph, current: current, edited: edited, fault: fault, owned: ownsTables))
    }

    /// Sends only differences (`apply --follow`), trusting that the kernel holds what
    /// the last apply left; reads only the handles of the chains it renames. `fault`:
    /// see `GraphEncoder.Fault` (a chain this change adds or rewrites gets the bad rule).
    @discardableResult
    public func apply(_ changes: [TableChange], fault: GraphEncoder.Fault? = nil) throws(ApplyError) -> Applied {
        var handles: [TableFamily: [String: UInt64]] = [:]
        for change in changes {
            for renamed in change.renamedChains {
                let name = renamed.old.name.text
                guard let handle = try transport.chainHandle(change.family, table: change.table, chain: name) else {
                    throw .kernelRejected(object: .chain(change.family, renamed.old.name, renamed.old.owner), errno: ENOENT)
                }
                handles[change.family, default: [:]][name] = handle
            }
        }
        return try send(GraphEncoder.plan(changes, handles: handles, fault: fault))
    }

    func send(_ plan: GraphEncoder.Plan) throws(ApplyError) -> Applied {
        for batch in plan.batches { try commit(batch) }
        return Applied(plan: plan)
    }

    public func delete(tableName: String) throws(ApplyError) {
        try commit(GraphEncoder.deleteBatch(tableName: tableName))
    }

    func commit(_ batch: FinalizedBatch) throws(ApplyError) {
        let errors = try transport.send(batch)
        guard let first = errors.min(by: { $0.sequence < $1.sequence }) else { return }
        if first.errno == 1 /* EPERM */ { throw .permissionDenied }
        throw .kernelRejected(object: batch.objects[first.sequence] ?? .batch, errno: first.errno)
    }
}
