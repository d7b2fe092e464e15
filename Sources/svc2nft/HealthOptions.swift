import ArgumentParser
import Svc2NftCore
import Svc2NftHealth

/// Where the long-running commands (`apply --follow`, `run`) serve kube-proxy's health,
/// load-balancer health checks and metrics; kube-proxy's flag names and defaults.
struct HealthOptions: ParsableArguments {
    @Option(
        name: .customLong("healthz-bind-address"),
        help: "IP and port for /healthz and /livez ('[::]:10256' for IPv6; an IP alone: port 10256; '' or 0 disables).")
    var healthzBindAddress: String?

    @Option(
        name: .customLong("metrics-bind-address"),
        help: "IP and port for /metrics in Prometheus text ('0.0.0.0:10249' for all interfaces; an IP alone: port 10249; '' or 0 disables)."
    )
    var metricsBindAddress: String?

    @Option(
        name: .customLong("healthz-timeout"),
        help:
            "Seconds a change may wait for a successful sync before /healthz answers 503 (default: twice --sync-period for run, 60 for apply --follow, as kube-proxy)."
    )
    var healthzTimeout: Double?

    /// The checked options; throws a message naming the bad one. `HealthAgent(_:logger:)`
    /// then starts the servers that are not disabled (Service health check ports always
    /// follow the Services, as in kube-proxy). A kube-proxy configuration file fills the
    /// addresses not given as flags.
    func configuration(
        node: NodeConfig, defaultTimeout: Duration = ProxyHealth.defaultTimeout, file: KubeProxyConfiguration? = nil
    ) throws(UsageError) -> HealthAgent.Configuration {
        let healthzBindAddress = self.healthzBindAddress ?? file?.healthzBindAddress ?? BindAddress.defaultHealthz
        let metricsBindAddress = self.metricsBindAddress ?? file?.metricsBindAddress ?? BindAddress.defaultMetrics
        var timeout = defaultTimeout
        if let healthzTimeout {
            guard healthzTimeout > 0, healthzTimeout.isFinite else { throw UsageError("--healthz-timeout: must be more than 0 seconds") }
            timeout = .milliseconds(Int64(healthzTimeout * 1000))
        }
        let healthz: BindAddress, metrics: BindAddress
        do throws(BindAddressError) {
            healthz = try BindAddress(healthzBindAddress, defaultPort: BindAddress.healthzPort, flag: "--healthz-bind-address")
            metrics = try BindAddress(metricsBindAddress, defaultPort: BindAddress.metricsPort, flag: "--metrics-bind-address")
        } catch {
            throw UsageError(error.description)
        }
        return HealthAgent.Configuration(healthz: healthz, metrics: metrics, healthTimeout: timeout, node: node)
    }
}
