import Prometheus
import Svc2NftCore

/// The agent's Prometheus metrics: kube-proxy's names, types, help texts and buckets
/// (pkg/proxy/metrics/metrics.go), plus svc2nft's own under `svc2nft_`. Rendered as
/// Prometheus text by swift-prometheus; `/metrics` serves `render()`.
///
/// svc2nft syncs both IP families in one transaction, so the metrics carry no
/// `ip_family` label (as in kube-proxy before 1.33).
public final class AgentMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    // kube-proxy's.
    let syncDuration, syncFullDuration, syncPartialDuration, networkProgramming: ValueHistogram
    let lastSyncTimestamp, lastQueuedTimestamp, endpointChangesPending, serviceChangesPending: Gauge
    let endpointChangesTotal, serviceChangesTotal, syncFailures, healthz200, healthz503, livez200, livez503: Counter
    // svc2nft's.
    let transactions, bytesSent, messagesSent, kernelRefusals, objectsSkipped, healthCheckBindFailures: Counter
    let foreignChanges, repairs: Counter
    let healthCheckPorts: Gauge
    let noLocalInternal, noLocalExternal: Gauge

    /// Each sync's time: 1 ms to about 16 s, doubling (kube-proxy's ExponentialBuckets(0.001, 2, 15)).
    static let syncBuckets = (0..<15).map { 0.001 * Double(1 << $0) }
    /// 0.25 s to 5 min, as kube-proxy's network programming histogram.
    static let programmingBuckets: [Double] =
        [0.25, 0.5] + (1...59).map(Double.init) + (0..<12).map { 60 + 5 * Double($0) } + (0..<7).map { 120 + 30 * Double($0) }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let r = registry
        syncDuration = r.makeValueHistogram(
            descriptor: Self.named("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds"),
            buckets: Self.syncBuckets)
        syncFullDuration = r.makeValueHistogram(
            descriptor: Self.named(
                "kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs"),
            buckets: Self.syncBuckets)
        syncPartialDuration = r.makeValueHistogram(
            descriptor: Self.named(
                "kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs"),
            buckets: Self.syncBuckets)
        networkProgramming = r.makeValueHistogram(
            descriptor: Self.named("kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds"),
            buckets: Self.programmingBuckets)
        lastSyncTimestamp = r.makeGauge(
            descriptor: Self.named(
                "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced"))
        lastQueuedTimestamp = r.makeGauge(
            descriptor: Self.named(
                "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued"))
        endpointChangesPending = r.makeGauge(
            descriptor: Self.named("kubeproxy_sync_proxy_rules_endpoint_changes_pending", "Pending proxy rules Endpoint changes"))
        serviceChangesPending = r.makeGauge(
            descriptor: Self.named("kubeproxy_sync_proxy_rules_service_changes_pending", "Pending proxy rules Service changes"))
        endpointChangesTotal = r.makeCounter(
            descriptor: Self.named("kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes"))
        serviceChangesTotal = r.makeCounter(
            descriptor: Self.named("kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes"))
        syncFailures = r.makeCounter(
            descriptor: Self.named("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "Cumulative proxy nftables sync failures"))
        let noLocal = Self.named(
            "kubeproxy_sync_proxy_rules_no_local_endpoints_total", "Number of services with a Local traffic policy and no endpoints")
        noLocalInternal = r.makeGauge(descriptor: noLocal, labels: [("traffic_policy", "internal")])
        noLocalExternal = r.makeGauge(descriptor: noLocal, labels: [("traffic_policy", "external")])
        let healthz = "kubeproxy_proxy_healthz_total", livez = "kubeproxy_proxy_livez_total"
        healthz200 = r.makeCounter(descriptor: Self.named(healthz, "Cumulative proxy healthz HTTP status"), labels: [("code", "200")])
        healthz503 = r.makeCounter(descriptor: Self.named(healthz, "Cumulative proxy healthz HTTP status"), labels: [("code", "503")])
        livez200 = r.makeCounter(descriptor: Self.named(livez, "Cumulative proxy livez HTTP status"), labels: [("code", "200")])
        livez503 = r.makeCounter(descriptor: Self.named(livez, "Cumulative proxy livez HTTP status"), labels: [("code", "503")])

        transactions = r.makeCounter(
            descriptor: Self.named("svc2nft_sync_transactions_total", "Netlink transactions committed by successful syncs"))
        bytesSent = r.makeCounter(descriptor: Self.named("svc2nft_sync_bytes_sent_total", "Netlink bytes sent by successful syncs"))
        messagesSent = r.makeCounter(
            descriptor: Self.named("svc2nft_sync_messages_sent_total", "Netlink messages sent by successful syncs"))
        kernelRefusals = r.makeCounter(
            descriptor: Self.named("svc2nft_kernel_refusals_total", "Syncs the kernel refused (nothing of such a transaction is applied)"))
        objectsSkipped = r.makeCounter(
            descriptor: Self.named("svc2nft_objects_skipped_total", "Objects skipped as invalid (their previous version stays)"))
        healthCheckBindFailures = r.makeCounter(
            descriptor: Self.named(
                "svc2nft_service_health_check_bind_failures_total", "Service health check ports that could not be opened"))
        foreignChanges = r.makeCounter(
            descriptor: Self.named(
                "svc2nft_foreign_changes_total", "Transactions by other processes that changed svc2nft's tables (nftables notifications)"))
        repairs = r.makeCounter(
            descriptor: Self.named("svc2nft_repairs_total", "Successful syncs that repaired svc2nft's tables after a foreign change"))
        healthCheckPorts = r.makeGauge(
            descriptor: Self.named("svc2nft_service_health_check_ports", "Service health check ports open on this node"))
    }

    /// A full name with its help text (no namespace or unit parts: the names are kube-proxy's as they are).
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// A Service or endpoints change waits for a sync.
    /// `pending`: distinct Services and endpoint objects changed since the last sync.
    func changeQueued(_ change: QueuedChange, pending: (services: Int, endpoints: Int), at unixSeconds: Double) {
        switch change.kind {
        case .service: serviceChangesTotal.increment()
        case .endpoints: endpointChangesTotal.increment()
        }
        serviceChangesPending.set(Int64(pending.services))
        endpointChangesPending.set(Int64(pending.endpoints))
        lastQueuedTimestamp.set(unixSeconds)
    }

    func synced(_ sync: SyncOutcome, at unixSeconds: Double, programmingLatencies: [Double]) {
        let seconds = Double(sync.duration.components.seconds) + Double(sync.duration.components.attoseconds) / 1e18
        syncDuration.record(seconds)
        (sync.full ? syncFullDuration : syncPartialDuration).record(seconds)
        serviceChangesPending.set(Int64(0))
        endpointChangesPending.set(Int64(0))
        transactions.increment(by: Int64(sync.transactions))
        bytesSent.increment(by: Int64(sync.bytes))
        messagesSent.increment(by: Int64(sync.messages))
        lastSyncTimestamp.set(unixSeconds)
        for latency in programmingLatencies { networkProgramming.record(latency) }
    }

    /// Failed syncs are not in the duration histograms (kube-proxy's are): the sync loop
    /// reports a failure by its error alone.
    func syncFailed(kernelRefused: Bool) {
        serviceChangesPending.set(Int64(0))
        endpointChangesPending.set(Int64(0))
        syncFailures.increment()
        if kernelRefused { kernelRefusals.increment() }
    }

    func noLocalEndpoints(_ counts: NoLocalEndpoints) {
        noLocalInternal.set(Int64(counts.internal))
        noLocalExternal.set(Int64(counts.external))
    }

    func answered(healthz code: Int) { (code == 200 ? healthz200 : healthz503).increment() }
    func answered(livez code: Int) { (code == 200 ? livez200 : livez503).increment() }

    /// The Prometheus text exposition of every metric.
    public func render() -> String { registry.emitToString() }

    /// `/metrics` (and, as kube-proxy's metrics server, `/healthz` answering `ok` and
    /// `/proxyMode` answering `nftables`).
    func reply(_ request: HTTPRequest) -> HTTPReply {
        switch request.path {
        case "/metrics":
            HTTPReply(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], body: render())
        case "/healthz":
            HTTPReply(status: 200, headers: ["Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"], body: "ok")
        case "/proxyMode":
            HTTPReply(status: 200, headers: ["Content-Type": "text/plain; charset=utf-8"], body: "nftables")
        default:
            HTTPReply.notFound
        }
    }
}
