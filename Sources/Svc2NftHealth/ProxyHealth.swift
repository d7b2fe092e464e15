import NIOConcurrencyHelpers

/// kube-proxy's `ProxyHealthServer` state (pkg/proxy/healthcheck/proxy_health.go): when
/// a change was first queued and not yet synced, when the last sync succeeded, and
/// whether the node may take load-balancer traffic. svc2nft syncs both IP families in
/// one go, so it is one proxier where kube-proxy keeps one entry per family.
///
/// Healthy unless a change has waited at least `timeout` without a successful sync; before
/// the first successful sync it is healthy (kube-proxy: "healthy while it's starting up").
/// Unlike kube-proxy, `failureLimit` syncs failing in a row make it unhealthy at once, also
/// while starting up: a node whose kernel refuses every sync (a missing module) would
/// otherwise stay green forever, or until a change happens to wait `timeout`.
public final class ProxyHealth: Sendable {
    /// kube-proxy uses twice its `--sync-period` (30 s by default).
    public static let defaultTimeout: Duration = .seconds(60)
    /// Failed syncs in a row that make the proxier unhealthy.
    public static let failureLimit = 3

    /// What `/healthz` and `/livez` report at one moment.
    public struct Status: Sendable, Equatable {
        public let healthy: Bool
        /// nil before the first successful sync (Go's zero time).
        public let lastUpdated: HealthInstant?
        public let nodeEligible: Bool
        public let currentTime: HealthInstant
    }

    private struct State {
        var lastUpdated: HealthInstant?
        var oldestPendingQueued: HealthInstant?
        var nodeEligible = true
        var failuresInARow = 0
    }

    public let timeout: Duration
    public let clock: HealthClock
    private let state = NIOLockedValueBox(State())

    public init(timeout: Duration = ProxyHealth.defaultTimeout, clock: HealthClock = .system) {
        self.timeout = timeout
        self.clock = clock
    }

    /// kube-proxy's `QueuedUpdate`: a change arrived that the kernel does not hold yet.
    /// Only the oldest pending change counts.
    public func queuedUpdate() {
        let now = clock.now()
        state.withLockedValue { if $0.oldestPendingQueued == nil { $0.oldestPendingQueued = now } }
    }

    /// kube-proxy's `Updated`: a sync succeeded; nothing is pending.
    public func updated() {
        let now = clock.now()
        state.withLockedValue {
            $0.oldestPendingQueued = nil
            $0.lastUpdated = now
            $0.failuresInARow = 0
        }
    }

    /// A sync failed: what it should have applied is still pending (the next sync
    /// retries it), and after `failureLimit` failures in a row the proxier is unhealthy.
    public func syncFailed() {
        let now = clock.now()
        state.withLockedValue {
            if $0.oldestPendingQueued == nil { $0.oldestPendingQueued = now }
            $0.failuresInARow += 1
        }
    }

    /// kube-proxy's `SyncNode`: false while the Node is being deleted or tainted
    /// `ToBeDeletedByClusterAutoscaler` (`Svc2NftAgent.NodeInfo.eligible` reads both).
    public func setNodeEligible(_ eligible: Bool) {
        state.withLockedValue { $0.nodeEligible = eligible }
    }

    /// kube-proxy's `isHealthy` with the node's eligibility (which only `/healthz` uses).
    public func status() -> Status {
        let current = state.withLockedValue { $0 }
        let now = clock.now()
        var healthy = current.failuresInARow < Self.failureLimit
        if current.lastUpdated != nil, let queued = current.oldestPendingQueued, now.sinceStart - queued.sinceStart >= timeout {
            healthy = false
        }
        return Status(healthy: healthy, lastUpdated: current.lastUpdated, nodeEligible: current.nodeEligible, currentTime: now)
    }

    /// kube-proxy's `IsHealthy`: the proxier alone, ignoring the node (Service health checks use this).
    public var isHealthy: Bool { status().healthy }
}
