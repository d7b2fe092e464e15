import Dispatch
import Logging
import ServiceLifecycle
import Svc2NftCore
import Svc2NftKube
import Svc2NftNetlink

/// How `run` syncs: kube-proxy's periods and the node options.
public struct AgentSettings: Sendable {
    /// This node's name (`--hostname-override`): its Node object and local endpoints.
    public var nodeName: String
    /// Node options from the command line; what they leave open comes from the Node.
    public var node: NodeConfig
    public var detectLocalMode: DetectLocalMode = .clusterCIDR
    /// Changes are applied at most this often (kube-proxy's `--min-sync-period`).
    public var minSyncPeriod: Duration = .seconds(1)
    /// A full sync, reading the kernel's rules and repairing drift, at least this often
    /// (`--sync-period`).
    public var syncPeriod: Duration = .seconds(30)
    /// Apply a cluster without Services even where our tables hold some (`--allow-empty`).
    public var allowEmpty = false
    /// Listen for other processes' changes to our tables and repair them at once.
    public var selfHealing = true
    /// The server ends each watch after this many seconds (tests shorten it).
    public var watchSeconds: ClosedRange<Int> = 300...600

    public init(nodeName: String, node: NodeConfig) {
        self.nodeName = nodeName
        self.node = node
    }
}

/// What the agent tells its watchers (health, metrics) besides its log.
public protocol AgentObserver: Sendable {
    /// Objects changed (one watch event's, or a whole list's); a sync is due. Health
    /// counts Service and endpoint changes and reads EndpointSlice trigger times from them.
    func changeQueued(_ objects: [RawObject])
    /// A sync went through.
    func synced(_ report: SyncReport)
    /// A sync failed; the next one applies in full.
    func syncFailed(_ error: ApplyError)
    /// An object from the API server was invalid and skipped.
    func objectSkipped(_ error: ModelError)
    /// The Node object changed.
    func nodeChanged(_ info: NodeInfo)
    /// The cluster after a sync: every Service with its slices, and the node options used.
    func clusterSynced(_ cluster: Cluster, node: NodeConfig)
    /// Another process changed our tables; a repairing sync follows at once.
    func foreignChange(_ change: ForeignChange)
    /// The sync after a foreign change went through (after `synced`).
    func repaired(_ report: SyncReport)
}

extension AgentObserver {
    public func foreignChange(_ change: ForeignChange) {}
    public func repaired(_ report: SyncReport) {}
}

/// The node agent behind `svc2nft run`: reflectors for Services, EndpointSlices,
/// ServiceCIDRs (where served) and this Node feed one loop that keeps a `Syncer`'s store current and syncs when allowed.
/// Nothing is applied before every list is complete (a half-synced view would
/// delete live Services' rules); after that, changes are batched by `minSyncPeriod`,
/// and a full sync repairs drift every `syncPeriod`. A `RulesetMonitor` hears of every
/// change another process commits to our tables (`nft flush ruleset`, a ruleset file
/// reloaded with `flush ruleset`) and such a change is repaired at once, without waiting
/// for either period.
/// Runs until graceful shutdown,
/// leaving the rules in place (as kube-proxy does).
public final class Agent: ServiceLifecycle.Service {
    let settings: AgentSettings
    let client: APIClient
    let worker: SyncWorker
    let logger: Logger
    let observer: AgentObserver?

    public init(settings: AgentSettings, client: APIClient, applier: Applier, logger: Logger, observer: AgentObserver? = nil) {
        self.settings = settings
        self.client = client
        worker = SyncWorker(Syncer(node: settings.node, applier: applier))
        self.logger = logger
        self.observer = observer
    }

    private enum Input: Sendable {
        case update(WatchUpdate)
        /// A sync that had to wait for `minSyncPeriod` (or a retry) may run now.
        case wake
        /// `syncPeriod` passed: a full sync is due.
        case periodic
        /// Another process changed our tables: a repairing sync is due now.
        case foreignChange(ForeignChange)
    }

    public func run() async throws {
        let (inputs, continuation) = AsyncStream<Input>.makeStream()
        let resources = [Resource.services, .endpointSlices, .serviceCIDRs, .node(named: settings.nodeName)]
        await withTaskGroup(of: Void.self) { group in
            for resource in resources {
                var reflector = Reflector(resource: resource, client: client, logger: logger)
                reflector.watchSeconds = settings.watchSeconds
                group.addTask { await reflector.run { continuation.yield(.update($0)) } }
            }
            let period = settings.syncPeriod
            group.addTask {
                while (try? await Task.sleep(for: period)) != nil { continuation.yield(.periodic) }
            }
            let owned = takeOwnership()
            let monitor = startMonitor { continuation.yield(.foreignChange($0)) }
            await cancelWhenGracefulShutdown {
                await self.loop(inputs, continuation: continuation, required: Set(resources), owned: owned)
            }
            monitor?.stop()
            group.cancelAll()
        }
        worker.syncer.recordOnExit()
        continuation.finish()
        logger.info("stopped; the rules stay in place (svc2nft delete removes them)")
    }

    /// Owns our existing tables (see `TableOwnership`) before anything else touches them;
    /// tables made later are created owned. A table that cannot be owned is logged once.
    /// Whether every table is (or will be created) owned.
    private func takeOwnership() -> Bool {
        let applier = worker.syncer.applier
        guard applier.ownsTables else { return false }
        let tables = IPFamily.allCases.map { (TableFamily($0), settings.node.tableName) }
        do {
            let refusals = try applier.adopt(tables)
            for refusal in refusals { logger.warning("\(refusal)") }
            if refusals.isEmpty { logger.info("tables owned: other processes cannot change or delete them while svc2nft runs, and they stay when it exits") }
            return refusals.isEmpty
        } catch {
            logger.warning("cannot own tables: \(error)")
            return false
        }
    }

    /// Listens for other processes' changes to our tables; nil (with a warning) where the
    /// kernel refuses, and then only `syncPeriod`'s repairs find them.
    private func startMonitor(_ report: @escaping @Sendable (ForeignChange) -> Void) -> RulesetMonitor? {
        guard settings.selfHealing else { return nil }
        let tables = IPFamily.allCases.map { (TableFamily($0), settings.node.tableName) }
        do {
            let monitor = try RulesetMonitor(tables: tables, ignoringCommitsOf: worker.syncer.applier)
            monitor.start(report)
            return monitor
        } catch {
            logger.warning("cannot listen for nftables changes (\(error)); changes by others are repaired every --sync-period only")
            return nil
        }
    }

    /// `owned`: no other process can change our tables, so the periodic full sync need not
    /// read their rules back (at 10,000 Services that dump is seconds of CPU).
    private func loop(_ inputs: AsyncStream<Input>, continuation: AsyncStream<Input>.Continuation, required: Set<Resource>, owned: Bool)
        async
    {
        let clock = ContinuousClock()
        var listed: Set<Resource> = []
        var lastSync: ContinuousClock.Instant? = nil
        var wake: ContinuousClock.Instant? = nil
        var fullDue = false
        var synced = false
        /// A foreign change waits for a repair, which does not wait for `minSyncPeriod`;
        /// unless the previous repair was less than `minSyncPeriod` ago, so a process that
        /// undoes each repair cannot start a busy loop.
        var healing = false
        var lastRepair: ContinuousClock.Instant? = nil
        var nodeInfo = NodeInfo()

        // At most one pending wake-up, owned here and cancelled when the loop ends.
        var wakeTask: Task<Void, Never>? = nil
        defer { wakeTask?.cancel() }
        func scheduleWake(at instant: ContinuousClock.Instant) {
            guard wake.map({ instant < $0 }) ?? true else { return }
            wake = instant
            wakeTask?.cancel()
            wakeTask = Task {
                guard (try? await Task.sleep(until: instant, clock: clock)) != nil else { return }
                continuation.yield(.wake)
            }
        }

        for await input in inputs {
            switch input {
            case .update(.listed(let resource, let objects)):
                listed.insert(resource)
                if resource.kind == "Node" {
                    nodeInfo = objects.first.map { NodeInfo($0.value) } ?? NodeInfo()
                    if objects.isEmpty { logger.warning("Node \(settings.nodeName) is not in the API; node options come from flags only") }
                    updateNode(nodeInfo, worker)
                } else {
                    for error in worker.syncer.replace(kind: resource.kind, with: objects) { skipped(error) }
                }
                observer?.changeQueued(objects)
            case .update(.changed(let resource, let event)):
                if resource.kind == "Node" {
                    nodeInfo = event.change == .delete ? NodeInfo() : NodeInfo(event.object.value)
                    updateNode(nodeInfo, worker)
                } else {
                    do {
                        try worker.syncer.record(event)
                        logger.debug("\(resource) \(event.change == .delete ? "deleted" : "changed"): \(event.object.displayName)")
                    } catch {
                        skipped(error)
                    }
                }
                observer?.changeQueued([event.object])
            case .wake:
                wake = nil
            case .periodic:
                fullDue = true
            case .foreignChange(let change):
                // Before the first sync, that sync reads the kernel and applies in full anyway.
                guard synced else { continue }
                logger.warning("\(change); repairing")
                observer?.foreignChange(change)
                fullDue = true
                healing = true
            }

            guard listed.isSuperset(of: required) else { continue }
            guard !worker.syncer.pending.isEmpty || worker.syncer.needsFull || fullDue else { continue }
            let now = clock.now
            let urgent = healing && lastRepair.map { now >= $0 + settings.minSyncPeriod } ?? healing
            if !urgent, let lastSync, now < lastSync + settings.minSyncPeriod {
                scheduleWake(at: lastSync + settings.minSyncPeriod)
                continue
            }
            if !synced, !settings.allowEmpty, worker.syncer.store.services.isEmpty,
                (try? worker.syncer.kernelHoldsServices()) ?? true
            {
                logger.error(
                    "the API server lists no Services, but this node's tables hold rules: not applied (a half-visible cluster would lose every Service; --allow-empty applies it)"
                )
                continue
            }
            let repair = fullDue && synced && (healing || !owned)
            let healed = healing
            if healed { lastRepair = now }
            fullDue = false
            healing = false
            lastSync = now
            switch await worker.sync(repair: repair) {
            case .success(let report):
                synced = true
                logger.info("\(report)")
                if let cleaned = report.conntrack {
                    cleaned.failures == 0 ? logger.info("\(cleaned.logLine)") : logger.warning("\(cleaned.logLine)")
                }
                observer?.synced(report)
                if healed { observer?.repaired(report) }
                observer?.clusterSynced(worker.syncer.store.cluster, node: worker.syncer.node)
            case .failure(let error):
                logger.error("sync failed: \(error); the next sync reads the kernel and applies in full")
                observer?.syncFailed(error)
                scheduleWake(at: now + max(settings.minSyncPeriod, .seconds(1)))
            }
        }
    }

    private func updateNode(_ info: NodeInfo, _ worker: SyncWorker) {
        let config = settings.node.filled(from: info, mode: settings.detectLocalMode)
        if config != worker.syncer.node {
            logger.info(
                "node \(settings.nodeName): addresses \(config.nodeIPs.map(\.description).joined(separator: ", ")), zone \(config.nodeZone ?? "none"), pod CIDRs \(config.clusterCIDRs.map(\.description).joined(separator: ", "))"
            )
        }
        worker.syncer.setNode(config)
        observer?.nodeChanged(info)
    }

    private func skipped(_ error: ModelError) {
        logger.warning("\(error) (object skipped; its previous version stays)")
        observer?.objectSkipped(error)
    }
}

/// Runs syncs on a thread of their own: a full apply of a large cluster blocks in
/// netlink for seconds, which must not hold one of the few threads Swift's concurrency
/// runs the watches on. The agent's loop awaits each sync, so the syncer is never used
/// from two threads at once.
final class SyncWorker: @unchecked Sendable {
    var syncer: Syncer
    private let queue = DispatchQueue(label: "svc2nft.sync")

    init(_ syncer: Syncer) { self.syncer = syncer }

    func sync(repair: Bool) async -> Result<SyncReport, ApplyError> {
        await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(ApplyError) in try self.syncer.sync(repair: repair) })
            }
        }
    }
}
