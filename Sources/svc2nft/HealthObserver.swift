import Svc2NftAgent
import Svc2NftCore
import Svc2NftHealth
import Svc2NftNetlink

/// Tells `HealthAgent` what the sync loop (`apply --follow`, `run`) reports: the one place
/// that knows both the loop's types (sync reports, apply errors) and health's.
struct HealthObserver: AgentObserver {
    let agent: HealthAgent

    init(_ agent: HealthAgent) { self.agent = agent }

    /// Only Service and endpoint objects queue a sync for health: Node objects change every
    /// few minutes (status updates) without a sync following, and would turn health 503.
    func changeQueued(_ objects: [RawObject]) {
        for object in objects { if let change = QueuedChange(object) { agent.changeQueued(change) } }
    }

    func synced(_ report: SyncReport) {
        let plan = report.applied.plan
        agent.synced(
            SyncOutcome(
                full: report.full, duration: report.duration, transactions: plan.batches.count, messages: plan.messageCount,
                bytes: plan.byteCount))
    }

    func syncFailed(_ error: ApplyError) {
        agent.syncFailed(kernelRefused: error.isKernelRefusal)
    }

    func foreignChange(_ change: ForeignChange) {
        agent.foreignChange()
    }

    func repaired(_ report: SyncReport) {
        agent.repaired()
    }

    func objectSkipped(_ error: ModelError) {
        agent.objectSkipped()
    }

    func nodeChanged(_ info: NodeInfo) {
        agent.nodeChanged(eligible: info.eligible)
    }

    func clusterSynced(_ cluster: Cluster, node: NodeConfig) {
        agent.servicesSynced(
            healthChecks: ServiceHealthChecks.compute(cluster, node: node), noLocalEndpoints: NoLocalEndpoints(cluster, node: node))
    }
}
