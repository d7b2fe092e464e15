import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Svc2NftCore

/// Health, load-balancer health checks and metrics for a sync loop, as kube-proxy serves
/// them: `/healthz` and `/livez`, one port per `healthCheckNodePort`, and `/metrics`.
/// The sync loop (`apply --follow`, `run`) reports each change, skipped object, sync and
/// Node to it (the executable adapts `Svc2NftAgent.AgentObserver` to these calls). Owns
/// its event loop thread and listeners; `shutdown()` closes them all.
public final class HealthAgent: Sendable {
    /// What to serve where.
    public struct Configuration: Sendable {
        public var healthz: BindAddress
        public var metrics: BindAddress
        /// How long a change may wait for a successful sync before health turns 503.
        public var healthTimeout: Duration
        /// Its NodePort addresses choose where health check ports listen.
        public var node: NodeConfig

        public init(healthz: BindAddress, metrics: BindAddress, healthTimeout: Duration = ProxyHealth.defaultTimeout, node: NodeConfig) {
            self.healthz = healthz
            self.metrics = metrics
            self.healthTimeout = healthTimeout
            self.node = node
        }
    }

    public let proxyHealth: ProxyHealth
    public let metrics: AgentMetrics
    public let serviceHealth: ServiceHealthServer
    private let group: MultiThreadedEventLoopGroup
    private let healthzListener: RetryingListener?
    private let metricsListener: RetryingListener?
    private let clock: HealthClock
    private let startedAt: Date
    private let pending = NIOLockedValueBox(Pending())

    private struct Pending {
        var services: Set<String> = []
        var endpoints: Set<String> = []
        var triggerTimes: [Date] = []
    }

    /// Starts the servers that are not disabled. A port that cannot be bound is logged and
    /// retried, never fatal (as in kube-proxy).
    public init(_ configuration: Configuration, logger: Logger = Logger(label: "svc2nft"), clock: HealthClock = .system) {
        self.clock = clock
        startedAt = Date(timeIntervalSince1970: clock.unixSeconds)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let health = ProxyHealth(timeout: configuration.healthTimeout, clock: clock)
        let metrics = AgentMetrics()
        proxyHealth = health
        self.metrics = metrics
        let hosts =
            ServiceHealthServer.hosts(for: configuration.node)
            ?? {
                // kube-proxy too listens on every address when it finds none to match.
                logger.error(
                    "no --node-ip inside --nodeport-addresses; health check ports listen on all addresses",
                    metadata: ["nodeport-addresses": "\(configuration.node.nodePortAddresses)"])
                return ["::"]
            }()
        serviceHealth = ServiceHealthServer(hosts: hosts, group: group, proxy: health, logger: logger, metrics: metrics)
        if case .address(let host, let port) = configuration.healthz {
            healthzListener = RetryingListener(name: "healthz", host: host, port: port, group: group, logger: logger) {
                HealthServer.reply($0, health: health, metrics: metrics)
            }
        } else {
            healthzListener = nil
        }
        if case .address(let host, let port) = configuration.metrics {
            metricsListener = RetryingListener(name: "metrics", host: host, port: port, group: group, logger: logger) {
                metrics.reply($0)
            }
        } else {
            metricsListener = nil
        }
        healthzListener?.start()
        metricsListener?.start()
    }

    /// The bound ports (nil when disabled or not bound yet).
    public var healthzPort: Int? { healthzListener?.boundPort }
    public var metricsPort: Int? { metricsListener?.boundPort }

    /// The Node object changed: `/healthz` turns 503 while it is being deleted or tainted
    /// for removal by the cluster autoscaler (`NodeInfo.eligible`).
    public func nodeChanged(eligible: Bool) {
        proxyHealth.setNodeEligible(eligible)
    }

    /// A Service or endpoints object changed the store; a sync is now due (kube-proxy's
    /// `QueuedUpdate` and change counters).
    public func changeQueued(_ change: QueuedChange) {
        let counts = pending.withLockedValue { pending in
            switch change.kind {
            case .service: pending.services.insert(change.object)
            case .endpoints: pending.endpoints.insert(change.object)
            }
            // kube-proxy ignores trigger times from before it started (the initial list).
            if let trigger = change.triggerTime, trigger > startedAt { pending.triggerTimes.append(trigger) }
            return (pending.services.count, pending.endpoints.count)
        }
        proxyHealth.queuedUpdate()
        metrics.changeQueued(change, pending: counts, at: clock.unixSeconds)
    }

    /// An object was invalid and skipped (its previous version stays).
    public func objectSkipped() {
        metrics.objectsSkipped.increment()
    }

    /// The kernel holds the new rules (kube-proxy's `Updated`).
    public func synced(_ sync: SyncOutcome) {
        let triggers = pending.withLockedValue { pending in
            defer { pending = Pending() }
            return pending.triggerTimes
        }
        let now = clock.unixSeconds
        proxyHealth.updated()
        metrics.synced(sync, at: now, programmingLatencies: triggers.map { now - $0.timeIntervalSince1970 }.filter { $0 >= 0 })
    }

    /// After a successful sync, of the store just synced: the Services that need a health
    /// check port (`ServiceHealthChecks.compute`) and `NoLocalEndpoints`. Opens and closes
    /// ports (kube-proxy's `SyncServices`, `SyncEndpoints`).
    public func servicesSynced(healthChecks: [ServiceID: ServiceHealthCheck], noLocalEndpoints: NoLocalEndpoints) {
        metrics.noLocalEndpoints(noLocalEndpoints)
        serviceHealth.sync(healthChecks)
    }

    /// Another process changed our tables (a repair follows).
    public func foreignChange() {
        metrics.foreignChanges.increment()
    }

    /// A sync after a foreign change went through: the tables are as svc2nft wants them again.
    public func repaired() {
        metrics.repairs.increment()
    }

    /// The sync failed and changed nothing; `kernelRefused` when the kernel refused the batch.
    public func syncFailed(kernelRefused: Bool) {
        // What was pending stays pending (the next sync retries it), so health stays late.
        pending.withLockedValue { pending in
            pending.services = []
            pending.endpoints = []
        }
        proxyHealth.syncFailed()
        metrics.syncFailed(kernelRefused: kernelRefused)
    }

    /// Closes every listener and stops the event loop thread.
    public func shutdown() {
        healthzListener?.shutdown()
        metricsListener?.shutdown()
        serviceHealth.shutdown()
        try? group.syncShutdownGracefully()
    }
}
