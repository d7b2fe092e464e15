import Foundation
import Svc2NftTestSupport
import Testing

/// `svc2nft run` serves health and metrics from what it watches: a health check port for
/// a LoadBalancer Service with `externalTrafficPolicy: Local`, and `/healthz` turning 503
/// when the autoscaler taints the Node, as kube-proxy does. Against the API server double,
/// in a network namespace of its own.
@Suite struct RunHealthTests {
    static let service = #"""
        {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "web", "name": "app"},
         "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000,
                  "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30100}]}}
        """#
    static let slice = #"""
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"namespace": "web", "name": "app-1", "labels": {"kubernetes.io/service-name": "app"}},
         "addressType": "IPv4", "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
         "endpoints": [{"addresses": ["10.244.1.10"], "nodeName": "node-a", "conditions": {"ready": true}}]}
        """#

    static func node(taints: String) -> String {
        #"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}, "spec": {"taints": [\#(taints)]}, "#
            + #""status": {"addresses": [{"type": "InternalIP", "address": "10.0.9.1"}]}}"#
    }

    @Test func healthCheckPortAndNodeEligibility() throws {
        if APIServerDoubleTests.skip("run health") { return }
        let ns = try NetworkNamespace("runhealth")
        _ = try ns.run(["ip", "link", "set", "lo", "up"])
        let certificates = try TestCertificates()
        let double = APIServerDouble(token: "test-token", bookmarkInterval: .milliseconds(200))
        double.put(Self.service)
        double.put(Self.slice)
        double.put(Self.node(taints: ""))
        let listener = try APIServerListener(double, certificates: certificates, namespace: ns.name, port: 6443)
        defer { listener.stop() }
        let kubeconfig = try certificates.kubeconfig(server: listener.url, token: "test-token")
        let agent = try BackgroundProcess([
            Command.which("ip")!, "netns", "exec", ns.name, Svc2NftBinary.path, "run", "--kubeconfig", kubeconfig,
            "--hostname-override", "node-a", "--cluster-cidr", "10.244.0.0/16", "--healthz-timeout", "2",
        ])
        func get(_ url: String) throws -> (status: Int, body: String) {
            let result = try ns.run(["curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", url])
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
        func within(_ seconds: Double, _ done: () throws -> Bool) rethrows -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if try done() { return true }
                Thread.sleep(forTimeInterval: 0.2)
            }
            return try done()
        }
        #expect(
            try within(30) { try get("http://127.0.0.1:32000/").status == 200 }, "the health check port answers 200\n\(agent.stderr)")
        #expect(try get("http://127.0.0.1:32000/").body.contains("\"localEndpoints\": 1"))
        #expect(try get("http://127.0.0.1:10256/healthz").status == 200)
        let metrics = try get("http://127.0.0.1:10249/metrics").body
        #expect(PrometheusText.problems(metrics) == [])
        #expect((PrometheusText.value("kubeproxy_sync_proxy_rules_service_changes_total", in: metrics) ?? 0) >= 1, "\(metrics)")

        double.put(Self.node(taints: #"{"key": "ToBeDeletedByClusterAutoscaler", "value": "1700000000", "effect": "NoSchedule"}"#))
        #expect(
            try within(20) { try get("http://127.0.0.1:10256/healthz").status == 503 },
            "the autoscaler's taint: not eligible\n\(agent.stderr)")
        #expect(try get("http://127.0.0.1:10256/healthz").body.hasSuffix(#""nodeEligible": false}"#))
        #expect(try get("http://127.0.0.1:10256/livez").status == 200, "/livez ignores the node")
        #expect(try get("http://127.0.0.1:32000/").status == 200, "the Service's check follows its endpoints, not the node")

        double.put(Self.node(taints: ""))
        #expect(try within(20) { try get("http://127.0.0.1:10256/healthz").status == 200 }, "\(agent.stderr)")
        double.delete(kind: "Service", namespace: "web", name: "app")
        #expect(try within(20) { try get("http://127.0.0.1:32000/").status == 0 }, "the port closes with its Service\n\(agent.stderr)")
    }
}
