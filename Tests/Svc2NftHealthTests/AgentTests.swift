import Foundation
import Logging
import NIOPosix
import Svc2NftCore
import Svc2NftTestSupport
import Testing

@testable import Svc2NftHealth

/// The servers over real loopback sockets, and the metrics text.
@Suite struct AgentTests {
    static let app = ServiceID(namespace: "web", name: "app")

    /// `curl -s -i URL`: status line, headers and body; nil without curl.
    static func get(_ url: String) throws -> String? {
        guard let curl = Command.which("curl") else { return nil }
        return try Command.run(curl, ["-s", "-i", "--max-time", "5", url]).stdout
    }

    @Test func metricsAreKubeProxysNamesInPrometheusTextAndMoveWithSyncs() {
        let metrics = AgentMetrics()
        let before = metrics.render()
        #expect(PrometheusText.problems(before) == [])
        for name in [
            "kubeproxy_sync_proxy_rules_duration_seconds", "kubeproxy_sync_full_proxy_rules_duration_seconds",
            "kubeproxy_sync_partial_proxy_rules_duration_seconds", "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "kubeproxy_network_programming_duration_seconds", "kubeproxy_sync_proxy_rules_endpoint_changes_total",
            "kubeproxy_sync_proxy_rules_service_changes_total", "kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "svc2nft_sync_transactions_total",
            "svc2nft_sync_bytes_sent_total", "svc2nft_kernel_refusals_total", "svc2nft_objects_skipped_total",
        ] {
            #expect(before.contains("# TYPE \(name) "), "\(name) is declared")
        }
        metrics.changeQueued(QueuedChange(kind: .endpoints, object: "a", triggerTime: nil), pending: (0, 1), at: 1000)
        metrics.synced(
            SyncOutcome(full: false, duration: .milliseconds(3), transactions: 1, messages: 7, bytes: 900), at: 1001,
            programmingLatencies: [0.3])
        metrics.noLocalEndpoints(NoLocalEndpoints(internal: 2, external: 1))
        metrics.syncFailed(kernelRefused: true)
        let after = metrics.render()
        #expect(PrometheusText.problems(after) == [])
        #expect(PrometheusText.value("kubeproxy_sync_proxy_rules_duration_seconds_count", in: after) == 1)
        #expect(PrometheusText.value("kubeproxy_sync_partial_proxy_rules_duration_seconds_count", in: after) == 1)
        #expect(PrometheusText.value("kubeproxy_sync_full_proxy_rules_duration_seconds_count", in: after) == 0)
        #expect(PrometheusText.value("kubeproxy_sync_proxy_rules_endpoint_changes_total", in: after) == 1)
        #expect(PrometheusText.value("kubeproxy_sync_proxy_rules_endpoint_changes_pending", in: after) == 0)
        #expect(PrometheusText.value("kubeproxy_sync_proxy_rules_last_timestamp_seconds", in: after) == 1001)
        #expect(PrometheusText.value("kubeproxy_network_programming_duration_seconds_count", in: after) == 1)
        #expect(PrometheusText.value("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", in: after) == 1)
        #expect(PrometheusText.value("svc2nft_kernel_refusals_total", in: after) == 1)
        #expect(PrometheusText.value(#"kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="internal"}"#, in: after) == 2)
        #expect(PrometheusText.value(#"kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"}"#, in: after) == 1)
        #expect(PrometheusText.value("svc2nft_sync_bytes_sent_total", in: after) == 900)
        #expect(PrometheusText.value("svc2nft_sync_transactions_total", in: after) == 1)
    }

    @Test func triggerTimeFromTheEndpointSliceAnnotation() throws {
        let objects = try ManifestReader.parse(
            Array(
                #"""
                {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                 "metadata": {"namespace": "web", "name": "app-1",
                   "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2023-11-14T22:13:20Z"}}}
                """#.utf8), file: "x.json")
        let change = try #require(QueuedChange(objects[0]))
        #expect(change.kind == .endpoints)
        #expect(change.object == "EndpointSlice web/app-1")
        #expect(change.triggerTime == Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test func serversAnswerOverHTTP() throws {
        let agent = HealthAgent(
            HealthAgent.Configuration(
                healthz: .address(host: "127.0.0.1", port: 0), metrics: .address(host: "127.0.0.1", port: 0), node: NodeConfig()))
        defer { agent.shutdown() }
        let healthz = try #require(agent.healthzPort), metricsPort = try #require(agent.metricsPort)
        guard let reply = try Self.get("http://127.0.0.1:\(healthz)/healthz") else { return }
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(reply)")
        #expect(reply.contains("Content-Type: application/json\r\n") && reply.contains("X-Content-Type-Options: nosniff\r\n"))
        #expect(try Self.get("http://127.0.0.1:\(healthz)/livez")?.hasPrefix("HTTP/1.1 200 OK\r\n") == true)
        #expect(try Self.get("http://127.0.0.1:\(healthz)/other")?.hasPrefix("HTTP/1.1 404 Not Found\r\n") == true)
        let metrics = try #require(try Self.get("http://127.0.0.1:\(metricsPort)/metrics"))
        #expect(metrics.contains("kubeproxy_proxy_healthz_total{code=\"200\"} 1"), "the /healthz answer was counted")
        agent.nodeChanged(eligible: false)
        #expect(try Self.get("http://127.0.0.1:\(healthz)/healthz")?.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n") == true)
    }

    @Test func aHealthCheckPortThatIsTakenIsRetriedUntilFree() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let squatter = try HTTPListener.bind(host: "127.0.0.1", port: 0, group: group) { _ in HTTPReply(status: 418, headers: [:], body: "")
        }
        let port = UInt16(squatter.port)
        let server = ServiceHealthServer(
            hosts: ["127.0.0.1"], group: group, proxy: ProxyHealth(), logger: Logger(label: "test"), metrics: nil)
        defer { server.shutdown() }
        server.sync([Self.app: ServiceHealthCheck(port: port, localEndpoints: 1)])
        #expect(server.openPorts.isEmpty, "the port is taken: logged, not fatal")
        squatter.close()
        let deadline = Date().addingTimeInterval(10)
        while server.openPorts.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(server.openPorts == [Self.app: port], "retried once the port was free")
        if let reply = try Self.get("http://127.0.0.1:\(port)/") {
            #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n") && reply.contains("\"localEndpoints\": 1"), "\(reply)")
        }
        server.sync([:])
        #expect(server.openPorts.isEmpty, "closed when the Service goes")
    }
}
