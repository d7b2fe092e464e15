import Foundation
import Svc2NftCore
import Svc2NftNetlink

/// The one path from changed objects to the kernel, shared by `apply --follow` and
/// `run`: events update a `ClusterStore`; a sync lowers only the Services they touched
/// (`IncrementalLowering`) and sends the differences, or, when the kernel's state is not
/// known (first sync, a failed sync, a new node configuration), reads the kernel and
/// applies everything; then stale UDP/SCTP conntrack entries go. Knows no nft syntax
/// and no netlink.
public struct Syncer {
    /// The node options given (command line, Node object); `ServiceCIDR` objects add to
    /// their Service CIDRs.
    public private(set) var node: NodeConfig
    public let applier: Applier
    /// Deletes stale conntrack entries after syncs that changed UDP/SCTP endpoints.
    public private(set) var conntrack = ConntrackCleaner()
    public private(set) var store = ClusterStore()
    var lowering: IncrementalLowering
    /// Services changed since the last sync.
    public private(set) var pending: Set<ServiceID> = []
    /// The kernel may not hold what `lowering` last produced: the next sync reads it and
    /// applies in full.
    public private(set) var needsFull = true
    /// What the first sync checks before it applies (`KernelProbe`): a kernel missing a
    /// feature fails that sync, and every later one until the feature appears, with the
    /// module to load.
    public var probe = KernelProbe()
    /// Whether `probe` passed once (it is not sent again).
    public private(set) var probed = false
    /// The kernel's generation right after our last sync, when no one else committed in
    /// between (only with an `AppliedRecord` path); what `recordOnExit` checks.
    public private(set) var ownGeneration: RulesetGeneration? = nil

    public init(node: NodeConfig, applier: Applier) {
        self.node = node
        self.applier = applier
        lowering = IncrementalLowering(node: node)
    }

    /// Records one change; an invalid object changes nothing and throws (its previous
    /// version stays).
    public mutating func record(_ event: ObjectEvent) throws(ModelError) {
        pending.formUnion(try store.apply(event))
        markAllIfNodeChanged()
    }

    /// Records a complete list of one kind (see `ClusterStore.replace`); returns the
    /// invalid objects, which keep their previous versions.
    public mutating func replace(kind: String, with objects: [RawObject]) -> [ModelError] {
        let (touched, errors) = store.replace(kind: kind, with: objects)
        pending.formUnion(touched)
        markAllIfNodeChanged()
        return errors
    }

    /// A new node configuration (addresses, zone, pod CIDRs) changes every Service's
    /// rules: lowered again from scratch and applied in full at the next sync.
    public mutating func setNode(_ node: NodeConfig) {
        self.node = node
        markAllIfNodeChanged()
    }

    /// A changed node configuration (or `ServiceCIDR`) touches every Service.
    private mutating func markAllIfNodeChanged() {
        if effectiveNode != lowering.node { pending.formUnion(store.services.keys) }
    }

    /// The node options lowering uses: the given ones plus the `ServiceCIDR` objects' ranges.
    public var effectiveNode: NodeConfig { node.adding(serviceCIDRs: store.serviceCIDRs) }

    /// Whether our tables in the kernel hold any Service's rules now.
    public func kernelHoldsServices() throws(ApplyError) -> Bool {
        try applier.holdsServices(IPFamily.allCases.map { (TableFamily($0), node.tableName) })
    }

    /// Lowers the pending Services and sends their differences; in full (reading the
    /// kernel) when its state is unknown or `full` is asked for. `repair` also reads the
    /// live rules and rewrites chains edited behind svc2nft's back. A failure leaves the
    /// next sync to apply in full.
    public mutating func sync(full: Bool = false, repair: Bool = false) throws(ApplyError) -> SyncReport {
        let start = ContinuousClock.now
        let wanted = effectiveNode
        if wanted != lowering.node {
            lowering = IncrementalLowering(node: wanted)
            pending.formUnion(store.services.keys)
            needsFull = true
        }
        let touched = pending.count
        conntrack.record(pending, from: store)
        let changes = lowering.update(pending, from: store)
        pending = []
        let wasFull = needsFull || full || repair
        do throws(ApplyError) {
            if !probed {
                try applier.probe(probe)
                probed = true
            }
            let applied =
                wasFull ? try applier.apply(.remembered(lowering), repair: repair) : try applier.apply(changes)
            needsFull = false
            ownGeneration = applied.settledGeneration
            let duration = ContinuousClock.now - start
            let cleaned = conntrack.clean(node: lowering.node)
            return SyncReport(full: wasFull, services: touched, applied: applied, duration: duration, conntrack: cleaned)
        } catch {
            needsFull = true
            ownGeneration = nil
            throw error
        }
    }
}

extension Syncer {
    /// On a graceful exit: when the kernel still holds exactly what our last sync left
    /// (its generation has not moved since), writes the `AppliedRecord`, so the next
    /// agent's first sync need not read the kernel back. One full fingerprint of the
    /// lowering, instead of one per sync.
    public func recordOnExit() {
        guard let path = applier.recordPath, let own = ownGeneration, applier.generation() == own else { return }
        AppliedRecord(generation: own, fingerprint: lowering.graph().contentFingerprint).save(path)
    }
}

/// What one sync did, for the log line and for metrics.
public struct SyncReport: Sendable, CustomStringConvertible {
    public let full: Bool
    /// Services whose objects changed since the previous sync.
    public let services: Int
    public let applied: Applied
    public let duration: Duration
    /// The conntrack cleanup after the apply; nil when skipped (no UDP/SCTP endpoint changed).
    public let conntrack: ConntrackCleanupResult?

    public var description: String {
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return "applied\(full ? " (full)" : ""): \(services) Service\(services == 1 ? "" : "s") changed"
            + "; sent \(applied.sentSummary) in " + String(format: "%.1f ms", milliseconds)
    }
}
