import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Svc2NftCore

/// kube-proxy's `ServiceHealthServer` (pkg/proxy/healthcheck/service_health.go): one HTTP
/// listener per `healthCheckNodePort`, on each of the node's NodePort addresses, that a
/// cloud load balancer probes to learn whether this node has local endpoints.
///
/// `sync` opens ports for new Services, closes those of removed Services (or changed
/// ports), and updates endpoint counts. A port that cannot be bound is logged and retried
/// with a capped backoff (kube-proxy retries on its next sync); it never stops the agent.
public final class ServiceHealthServer: Sendable {
    private struct Instance {
        let port: UInt16
        var listeners: [HTTPListener] = []
        var localEndpoints = 0
    }

    private struct State {
        var wanted: [ServiceID: UInt16] = [:]
        var open: [ServiceID: Instance] = [:]
        var counts: [ServiceID: Int] = [:]
        var retryDelay: Duration? = nil
        var stopped = false
    }

    /// Hosts each port is bound on: the node's NodePort addresses, or `::` (all
    /// addresses of both families) when NodePorts answer on every address.
    public let hosts: [String]
    private let group: any EventLoopGroup
    private let proxy: ProxyHealth
    private let logger: Logger
    private let metrics: AgentMetrics?
    private let state = NIOLockedValueBox(State())
    /// Opening and closing run one at a time, here (binding blocks until bound).
    private let queue = DispatchQueue(label: "svc2nft.service-health")

    static let firstRetry: Duration = .seconds(1)
    static let maxRetry: Duration = .seconds(30)

    init(hosts: [String], group: any EventLoopGroup, proxy: ProxyHealth, logger: Logger, metrics: AgentMetrics?) {
        self.hosts = hosts
        self.group = group
        self.proxy = proxy
        self.logger = logger
        self.metrics = metrics
    }

    /// kube-proxy's choice of addresses: every address when `--nodeport-addresses` is
    /// not given; else the node's addresses inside those CIDRs (all addresses, logged by
    /// the caller, when none matches).
    public static func hosts(for node: NodeConfig) -> [String]? {
        guard !node.nodePortAddresses.isEmpty else { return ["::"] }
        let matching = node.nodeIPs.filter { ip in node.nodePortAddresses.contains { $0.contains(ip) } }
        return matching.isEmpty ? nil : matching.map(\.description)
    }

    /// Makes the open ports those of `checks` and records each Service's local endpoints
    /// (kube-proxy's `SyncServices` then `SyncEndpoints`). Returns when ports are open.
    public func sync(_ checks: [ServiceID: ServiceHealthCheck]) {
        state.withLockedValue { state in
            state.wanted = checks.mapValues(\.port)
            state.counts = checks.mapValues(\.localEndpoints)
            for id in state.open.keys { state.open[id]?.localEndpoints = state.counts[id] ?? 0 }
        }
        queue.sync { reconcile() }
    }

    /// The ports open now, by Service.
    public var openPorts: [ServiceID: UInt16] { state.withLockedValue { $0.open.mapValues(\.port) } }

    /// Closes every port; no retry runs after this.
    public func shutdown() {
        state.withLockedValue { $0.stopped = true }
        queue.sync {
            let open = state.withLockedValue { state in
                defer { state.open = [:] }
                return state.open
            }
            for instance in open.values { instance.listeners.forEach { $0.close() } }
        }
    }

    /// On `queue`: closes what is no longer wanted, opens what is missing.
    private func reconcile() {
        let (wanted, open, stopped) = state.withLockedValue { ($0.wanted, $0.open, $0.stopped) }
        if stopped { return }
        for (id, instance) in open where wanted[id] != instance.port {
            logger.info("closing health check", metadata: ["service": "\(id)", "port": "\(instance.port)"])
            instance.listeners.forEach { $0.close() }
            state.withLockedValue { _ = $0.open.removeValue(forKey: id) }
        }
        var failed = false
        for (id, port) in wanted.sorted(by: { $0.key < $1.key }) where open[id]?.port != port {
            do {
                let listeners = try listen(id, port: port)
                state.withLockedValue { state in
                    state.open[id] = Instance(port: port, listeners: listeners, localEndpoints: state.counts[id] ?? 0)
                }
                logger.info("opened health check", metadata: ["service": "\(id)", "port": "\(port)"])
            } catch {
                failed = true
                metrics?.healthCheckBindFailures.increment()
                logger.error(
                    "failed to start health check; retrying",
                    metadata: ["service": "\(id)", "port": "\(port)", "error": "\(error)"])
            }
        }
        metrics?.healthCheckPorts.set(Int64(state.withLockedValue { $0.open.count }))
        scheduleRetry(failed: failed)
    }

    /// Binds every host, or none: a partial set is closed so a retry starts clean.
    private func listen(_ id: ServiceID, port: UInt16) throws -> [HTTPListener] {
        var listeners: [HTTPListener] = []
        do {
            for host in hosts {
                let respond: @Sendable (HTTPRequest) -> HTTPReply = { [weak self] _ in
                    self?.reply(id) ?? HTTPReply(status: 200, headers: [:], body: "")
                }
                do {
                    listeners.append(try HTTPListener.bind(host: host, port: Int(port), group: group, respond: respond))
                } catch let error as IOError where host == "::" && error.errnoCode == EAFNOSUPPORT {
                    // A kernel without IPv6: every IPv4 address, as Go falls back to.
                    listeners.append(try HTTPListener.bind(host: "0.0.0.0", port: Int(port), group: group, respond: respond))
                }
            }
        } catch {
            listeners.forEach { $0.close() }
            throw error
        }
        return listeners
    }

    /// kube-proxy answers a closed Service's request with an empty 200; a listener that is
    /// closing may still see one.
    private func reply(_ id: ServiceID) -> HTTPReply {
        guard let count = state.withLockedValue({ $0.open[id]?.localEndpoints }) else {
            return HTTPReply(status: 200, headers: [:], body: "")
        }
        return HealthResponses.service(id, localEndpoints: count, proxyHealthy: proxy.isHealthy)
    }

    /// After a bind failure, tries again after 1 s, doubling to 30 s, until it works or
    /// the Service goes; a later `sync` also retries at once.
    private func scheduleRetry(failed: Bool) {
        let delay: Duration? = state.withLockedValue { state in
            guard failed, !state.stopped else {
                state.retryDelay = nil
                return nil
            }
            let next = state.retryDelay.map { min($0 * 2, Self.maxRetry) } ?? Self.firstRetry
            state.retryDelay = next
            return next
        }
        guard let delay else { return }
        let nanos = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(nanos))) { [weak self] in self?.reconcile() }
    }
}
