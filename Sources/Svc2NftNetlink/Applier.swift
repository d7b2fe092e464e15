import Svc2NftCore

/// What `apply` sent, and whether removing stale objects afterwards failed (the new
/// ruleset is live either way).
public struct Applied: Sendable {
    public let plan: GraphEncoder.Plan
    public let staleLeft: ApplyError?
}

/// Installs a rule graph, or deletes our tables, in one batch through a transport, and
/// turns the kernel's first error into an `ApplyError` naming the graph object.
public struct Applier {
    let transport: NetfilterTransport

    public init(transport: NetfilterTransport) {
        self.transport = transport
    }

    /// Replaces our tables with `graph`: reads what the kernel has, then sends the
    /// `GraphEncoder.Plan` (one batch for a new table; prepare, switch, cleanup for an
    /// existing one). Returns the plan it sent. With `repair`, also reads the live rules
    /// and elements (as `diff` does) and rewrites kept chains and maps that were edited
    /// behind svc2nft's back.
    @discardableResult
    public func apply(_ graph: RuleGraph, repair: Bool = false, fault: GraphEncoder.Fault? = nil) throws(ApplyError) -> Applied {
        var current: [TableFamily: TableState] = [:]
        var edited: [TableFamily: Set<String>] = [:]
        for table in graph.tables {
            current[table.family] = try transport.state(of: table.family, table: table.name)
            if repair, current[table.family] != nil, let reader = transport as? NetfilterReader,
                let live = try reader.live(table.family, table: table.name)
            {
                let expected = LiveTable.expected(table)
                let chains = expected.chains.filter { name, want in live.chains[name].map { $0 != want } ?? false }.keys
                let sets = expected.sets.filter { name, want in live.sets[name].map { $0 != want } ?? false }.keys
                edited[table.family] = Set(chains).union(sets)
            }
        }
        return try send(GraphEncoder.plan(graph, current: current, edited: edited, fault: fault))
    }

    /// Sends only differences (`apply --follow`), trusting that the kernel holds what
    /// the last apply left; a refused switch is undone as in `apply`.
    @discardableResult
    public func apply(_ changes: [TableChange]) throws(ApplyError) -> Applied {
        try send(GraphEncoder.plan(changes))
    }

    func send(_ plan: GraphEncoder.Plan) throws(ApplyError) -> Applied {
        if let prepare = plan.prepare { try commit(prepare) }
        do {
            try commit(plan.main)
        } catch {
            if let undo = plan.undo { try? commit(undo) }
            throw error
        }
        // The switch is in; stale objects are unreferenced now. A failure here leaves
        // only unused chains or sets behind, which the next apply removes: not an error.
        var staleLeft: ApplyError? = nil
        if let cleanup = plan.cleanup {
            do { try commit(cleanup) } catch { staleLeft = error }
        }
        return Applied(plan: plan, staleLeft: staleLeft)
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
