import Foundation
import Svc2NftCore

/// What `apply` sent, and the ruleset it installed.
public struct Applied: Sendable {
    public let plan: GraphEncoder.Plan
    /// Tables, chains and rules of the installed ruleset (for the `applied:` line).
    public var tables = 0, chains = 0, rules = 0
    /// The whole graph, when an update built it (the caller may keep it to exit
    /// without freeing it).
    public var graph: RuleGraph? = nil
    /// Set when the kernel was not read back: its generation (this number) had not moved
    /// since the last apply of the same ruleset (`AppliedRecord`).
    public var unchangedGeneration: UInt32? = nil
    /// The kernel's generation right after this apply, when only its own commits moved
    /// it (measured only by an applier with a `recordPath`).
    public var settledGeneration: RulesetGeneration? = nil

    public init(plan: GraphEncoder.Plan) {
        self.plan = plan
    }

    /// "nothing: the kernel holds this ruleset (0 bytes)", or what was sent, and whether
    /// the kernel was read back: the `applied:` lines of `apply` and the sync loop.
    public var sentSummary: String {
        "\(plan.summary) (\(plan.byteCount) bytes)"
            + (unchangedGeneration.map { "; kernel generation \($0) unchanged since the last apply, nothing read back" } ?? "")
    }
}

/// A ruleset for `Applier.apply`, in the two forms it may need: in parts for a fresh
/// install (each part made while the kernel commits the one before), or whole for an
/// update. Both must describe the same graph.
public struct Ruleset: Sendable {
    public let tables: [(TableFamily, String)]
    let parts: @Sendable (_ part: (GraphPart) -> Void) -> (chains: Int, rules: Int)
    let graph: @Sendable () -> RuleGraph

    public init(
        tables: [(TableFamily, String)], parts: @escaping @Sendable (_ part: (GraphPart) -> Void) -> (chains: Int, rules: Int),
        graph: @escaping @Sendable () -> RuleGraph
    ) {
        self.tables = tables
        self.parts = parts
        self.graph = graph
    }

    /// `cluster` lowered for `node` (`svc2nft apply`).
    public static func lowering(_ cluster: Cluster, node: NodeConfig) -> Ruleset {
        Ruleset(
            tables: IPFamily.allCases.map { (TableFamily($0), node.tableName) },
            parts: { part in Lowering.lower(cluster, node: node, inParts: part) }, graph: { Lowering.lower(cluster, node: node) })
    }

    /// What an incremental lowering holds now (`apply --follow`, `run`).
    public static func remembered(_ lowering: IncrementalLowering) -> Ruleset {
        Ruleset(
            tables: IPFamily.allCases.map { (TableFamily($0), lowering.node.tableName) }, parts: { part in lowering.parts(part) },
            graph: { lowering.graph() })
    }
}

/// Installs a ruleset, or deletes our tables, through a transport, and turns the
/// kernel's first error into an `ApplyError` naming the graph object. The one place
/// that chooses between a fresh install (the kernel has none of our tables: the
/// ruleset in parts, see `FreshInstall`) and one update transaction planned from the
/// kernel's state (`KernelStateDiff`) or from incremental lowering.
public struct Applier {
    let transport: NetfilterTransport
    /// Tables this applier creates are owned by its socket and persistent (`TableOwnership`).
    public let ownsTables: Bool
    /// Where the `AppliedRecord` of this node's tables is kept (nil: none).
    public let recordPath: String?

    public init(transport: NetfilterTransport, ownsTables: Bool = false, recordPath: String? = nil) {
        self.transport = transport
        self.ownsTables = ownsTables
        self.recordPath = recordPath
    }

    /// Replaces our tables with `ruleset`. Where the kernel has none of them, a fresh
    /// install in parts; otherwise reads what the kernel has (while the graph is built)
    /// and sends the difference, nothing at all when there is none. With `repair`, also
    /// reads the live rules and elements (as `diff` does) and rewrites kept chains and
    /// maps that were edited behind svc2nft's back.
    @discardableResult
    public func apply(_ ruleset: Ruleset, repair: Bool = false) throws(ApplyError) -> Applied {
        let tables = ruleset.tables
        guard try hasAny(of: tables) else {
            // The fresh install never holds the whole graph, so it records nothing; the next apply reads the kernel.
            if let recordPath { AppliedRecord.remove(recordPath) }
            let before = recordPath == nil ? nil : generation()
            var counts = (chains: 0, rules: 0)
            var applied = try installFresh { part in counts = ruleset.parts(part) }
            (applied.tables, applied.chains, applied.rules) = (tables.count, counts.chains, counts.rules)
            applied.settledGeneration = settled(since: before, commits: applied.plan.batches.count)
            return applied
        }
        // Nobody committed anything since our last apply of this very ruleset: the kernel holds it.
        let before = recordPath == nil ? nil : try transport.generation()
        var built: RuleGraph? = nil
        if !repair, let recordPath, let before, let record = AppliedRecord.load(recordPath), record.generation == before {
            let graph = ruleset.graph()
            if record.fingerprint == graph.contentFingerprint {
                var applied = Applied(plan: GraphEncoder.Plan(batches: []))
                (applied.tables, applied.chains, applied.rules) = (graph.tables.count, graph.chainCount, graph.ruleCount)
                applied.graph = graph
                applied.unchangedGeneration = before.id
                applied.settledGeneration = before
                return applied
            }
            built = graph
        }
        // The kernel's state (its dump takes about as long as lowering) is read while the graph is built.
        let reader = UncheckedSendable(self)
        let known = UncheckedSendable(built)
        let (current, graph) = Parallel.pair {
            Result { () throws(ApplyError) in try reader.value.kernelState(of: tables) }
        } _: {
            known.value ?? ruleset.graph()
        }
        var applied = try update(graph, current: try current.get(), repair: repair)
        (applied.tables, applied.chains, applied.rules) = (graph.tables.count, graph.chainCount, graph.ruleCount)
        applied.graph = graph
        applied.settledGeneration = settled(since: before, commits: applied.plan.batches.count)
        if let recordPath {
            // What the kernel holds now, if only our commits moved its generation; otherwise nothing is known.
            if let settled = applied.settledGeneration {
                AppliedRecord(generation: settled, fingerprint: graph.contentFingerprint).save(recordPath)
            } else {
                AppliedRecord.remove(recordPath)
            }
        }
        return applied
    }

    /// The generation now, if it follows `before` by exactly our `commits`.
    func settled(since before: RulesetGeneration?, commits: Int) -> RulesetGeneration? {
        guard let before, let after = generation(), after.follows(before, by: commits) else { return nil }
        return after
    }

    /// The kernel's ruleset generation now; nil where unknown.
    public func generation() -> RulesetGeneration? { try? transport.generation() }

    /// The netlink port id our commits are sent from (nil for a transport without a socket):
    /// `RulesetMonitor` tells our own changes from others' by it.
    public var portID: UInt32? { (transport as? MNLTransport)?.portID }

    /// Whether the kernel has any of these tables (without reading their chains).
    public func hasAny(of tables: [(TableFamily, String)]) throws(ApplyError) -> Bool {
        for (family, name) in tables where try transport.exists(family, table: name) { return true }
        return false
    }

    /// What the kernel has of these tables (chains, sets, shared-map elements; no
    /// rules); a table it does not have is left out.
    public func kernelState(of tables: [(TableFamily, String)]) throws(ApplyError) -> [TableFamily: TableState] {
        var current: [TableFamily: TableState] = [:]
        for (family, name) in tables {
            current[family] = try transport.state(of: family, table: name)
        }
        return current
    }

    /// Sends the one transaction that turns `current` (read with `kernelState`) into
    /// `graph`; none if the kernel already holds it.
    func update(_ graph: RuleGraph, current: [TableFamily: TableState], repair: Bool) throws(ApplyError) -> Applied {
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
        return try send(GraphEncoder.plan(graph, current: current, edited: edited, owned: ownsTables))
    }

    /// Sends only differences (`apply --follow`), trusting that the kernel holds what
    /// the last apply left; reads only the handles of the chains it renames.
    @discardableResult
    public func apply(_ changes: [TableChange]) throws(ApplyError) -> Applied {
        let before = recordPath == nil ? nil : generation()
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
        var applied = try send(GraphEncoder.plan(changes, handles: handles, owned: ownsTables))
        applied.settledGeneration = settled(since: before, commits: applied.plan.batches.count)
        return applied
    }

    func send(_ plan: GraphEncoder.Plan) throws(ApplyError) -> Applied {
        for batch in plan.batches { try commit(batch) }
        return Applied(plan: plan)
    }

    public func delete(tableName: String) throws(ApplyError) {
        if let recordPath { AppliedRecord.remove(recordPath) }
        try commit(GraphEncoder.deleteBatch(tableName: tableName))
    }

    func commit(_ batch: FinalizedBatch) throws(ApplyError) {
        let errors = try transport.send(batch)
        guard let first = errors.min(by: { $0.sequence < $1.sequence }) else { return }
        if first.errno == 1 /* EPERM */ { throw .permissionDenied }
        throw .kernelRejected(object: batch.objects[first.sequence] ?? .batch, errno: first.errno)
    }
}

/// Hands a value that one thread uses at a time to another thread.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
