import Svc2NftCore

/// Installs a rule graph, or deletes our tables, in one batch through a transport, and
/// turns the kernel's first error into an `ApplyError` naming the graph object.
public struct Applier {
    let transport: NetfilterTransport

    public init(transport: NetfilterTransport) {
        self.transport = transport
    }

    /// Replaces our tables with `graph`: reads what the kernel has, then sends the
    /// `GraphEncoder.Plan` (one batch for a new table; prepare, switch, cleanup for an
    /// existing one). Returns the plan it sent.
    @discardableResult
    public func apply(_ graph: RuleGraph, fault: GraphEncoder.Fault? = nil) throws(ApplyError) -> GraphEncoder.Plan {
        var current: [TableFamily: TableState] = [:]
        for table in graph.tables {
            current[table.family] = try transport.state(of: table.family, table: table.name)
        }
        let plan = GraphEncoder.plan(graph, current: current, fault: fault)
        if let prepare = plan.prepare { try commit(prepare) }
        do {
            try commit(plan.main)
        } catch {
            if let undo = plan.undo { try? commit(undo) }
            throw error
        }
        // The switch is in; stale objects are unreferenced now. A failure here leaves
        // only unused chains or sets behind, which the next apply removes.
        if let cleanup = plan.cleanup { try commit(cleanup) }
        return plan
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
