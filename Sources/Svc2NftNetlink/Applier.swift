import Svc2NftCore

/// Installs a rule graph, or deletes our tables, in one batch through a transport, and
/// turns the kernel's first error into an `ApplyError` naming the graph object.
public struct Applier {
    let transport: NetfilterTransport

    public init(transport: NetfilterTransport) {
        self.transport = transport
    }

    /// Replaces our tables with `graph`. Returns the batch size in bytes.
    @discardableResult
    public func apply(_ graph: RuleGraph, fault: GraphEncoder.Fault? = nil) throws(ApplyError) -> FinalizedBatch {
        let batch = GraphEncoder.replaceBatch(graph, fault: fault)
        try commit(batch)
        return batch
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
