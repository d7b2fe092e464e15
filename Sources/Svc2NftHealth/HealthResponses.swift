import Foundation
import Svc2NftCore

/// An HTTP answer as the servers build it: status code, headers in order, body.
public struct HTTPReply: Sendable, Equatable {
    public let status: Int
    public let headers: [String: String]
    public let body: String

    public init(status: Int, headers: [String: String], body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The headers kube-proxy sets on every health answer.
    public static let jsonHeaders = ["Content-Type": "application/json", "X-Content-Type-Options": "nosniff"]

    /// Go's `http.NotFound` (an unknown path on a `ServeMux`).
    public static let notFound = HTTPReply(
        status: 404, headers: ["Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"],
        body: "404 page not found\n")
}

/// The answers of kube-proxy's health handlers, byte for byte
/// (pkg/proxy/healthcheck/proxy_health.go and service_health.go). Pure: the state comes in.
public enum HealthResponses {
    /// `/healthz`: 503 when the proxy is late or the node is not eligible. When healthy,
    /// `lastUpdated` is the current time (kube-proxy keeps older releases' meaning).
    public static func healthz(_ status: ProxyHealth.Status) -> HTTPReply {
        let healthy = status.healthy && status.nodeEligible
        let body =
            "{\"lastUpdated\": \(quoted(lastUpdated(status, healthy: healthy))),\"currentTime\": \(quoted(status.currentTime.goString)),"
            + " \"nodeEligible\": \(status.nodeEligible)}"
        return HTTPReply(status: healthy ? 200 : 503, headers: HTTPReply.jsonHeaders, body: body)
    }

    /// `/livez`: as `/healthz`, but the node's eligibility neither counts nor shows.
    public static func livez(_ status: ProxyHealth.Status) -> HTTPReply {
        let body =
            "{\"lastUpdated\": \(quoted(lastUpdated(status, healthy: status.healthy))),\"currentTime\": \(quoted(status.currentTime.goString))}"
        return HTTPReply(status: status.healthy ? 200 : 503, headers: HTTPReply.jsonHeaders, body: body)
    }

    /// A Service's health check port: 200 when the node has a local ready endpoint and
    /// the proxy is healthy, else 503. kube-proxy dedents a tab-indented template.
    public static func service(_ id: ServiceID, localEndpoints: Int, proxyHealthy: Bool) -> HTTPReply {
        let body = """
            {
            \t"service": {
            \t\t"namespace": \(quoted(id.namespace)),
            \t\t"name": \(quoted(id.name))
            \t},
            \t"localEndpoints": \(localEndpoints),
            \t"serviceProxyHealthy": \(proxyHealthy)
            }
            """
        return HTTPReply(status: localEndpoints != 0 && proxyHealthy ? 200 : 503, headers: HTTPReply.jsonHeaders, body: body)
    }

    private static func lastUpdated(_ status: ProxyHealth.Status, healthy: Bool) -> String {
        if healthy { return status.currentTime.goString }
        return status.lastUpdated?.goString ?? HealthInstant.goZeroString
    }

    /// Go's `%q` for the strings that reach it here (times and Kubernetes names: no
    /// control characters).
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
