/// kube-proxy's `/healthz` and `/livez` handlers over a `ProxyHealth`; every other path
/// is Go's 404. Counts answers by code in `kubeproxy_proxy_healthz_total` and
/// `kubeproxy_proxy_livez_total`.
enum HealthServer {
    static func reply(_ request: HTTPRequest, health: ProxyHealth, metrics: AgentMetrics?) -> HTTPReply {
        switch request.path {
        case "/healthz":
            let reply = HealthResponses.healthz(health.status())
            metrics?.answered(healthz: reply.status)
            return reply
        case "/livez":
            let reply = HealthResponses.livez(health.status())
            metrics?.answered(livez: reply.status)
            return reply
        default:
            return HTTPReply.notFound
        }
    }
}
