import Foundation
import Svc2NftTestSupport
import Testing

/// Health, load-balancer health checks and metrics of `apply --follow`, from other network
/// namespaces: two nodes, each running the built binary on its own veth to a "load
/// balancer" namespace that probes the health check port and sends traffic only to the
/// nodes that answer 200.
@Suite(.serialized) struct HealthKernelTests {
    static let healthPort = 32000, nodePort = 30100
    /// Each node: its name, address on its veth, its pod's address and the LB's address there.
    static let nodes = [("node-a", "10.0.1.1", "10.244.1.10", "10.0.1.254"), ("node-b", "10.0.2.1", "10.244.2.10", "10.0.2.254")]

    static var poller: String {
        URL(fileURLWithPath: TestBed.script).deletingLastPathComponent().appendingPathComponent("lb_poller.py").path
    }

    static func service(_ name: String, _ type: String, extra: String) -> String {
        #"{"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "web", "name": "\#(name)"}, "spec": {"type": "\#(type)", "#
            + #""clusterIP": "10.96.0.\#(name == "app" ? 10 : 11)", \#(extra) "ports": [{"name": "http", "protocol": "TCP", "port": 80, "#
            + #""targetPort": 8080, "nodePort": \#(name == "app" ? nodePort : 30101)}]}}"#
    }

    static let app = service(
        "app", "LoadBalancer", extra: #""externalTrafficPolicy": "Local", "healthCheckNodePort": \#(healthPort),"#)
    static let broken = service("broken", "NodePort", extra: "")

    /// The app's slice with node-a's and node-b's endpoints ready or not; the trigger time
    /// annotation is now, as the EndpointSlice controller writes it.
    static func slice(_ name: String, readyA: Bool, readyB: Bool) -> String {
        let stamp = ISO8601DateFormatter().string(from: Date())
        func endpoint(_ node: (String, String, String, String), _ ready: Bool) -> String {
            #"{"addresses": ["\#(node.2)"], "nodeName": "\#(node.0)", "conditions": {"ready": \#(ready)}}"#
        }
        return #"{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"namespace": "web", "name": "\#(name)-1", "#
            + #""labels": {"kubernetes.io/service-name": "\#(name)"}, "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "\#(stamp)"}}, "#
            + #""addressType": "IPv4", "ports": [{"name": "http", "protocol": "TCP", "port": 8080}], "#
            + #""endpoints": [\#(endpoint(nodes[0], readyA)), \#(endpoint(nodes[1], readyB))]}"#
    }

    static func event(_ type: String, _ object: String) -> String { #"{"type": "\#(type)", "object": \#(object)}"# + "\n" }

    /// The namespaces, pods and followers of one test; all go away with it.
    final class Cluster {
        let lb: NetworkNamespace
        var nodes: [NetworkNamespace] = []
        var servers: [BackgroundProcess] = []
        var followers: [BackgroundProcess] = []
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-health-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let input = directory.appendingPathComponent("input.json")
            try
                ("{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\(HealthKernelTests.app), "
                + "\(HealthKernelTests.slice("app", readyA: true, readyB: false))]}").write(to: input, atomically: true, encoding: .utf8)
            lb = try NetworkNamespace("lb")
            try Self.sh(lb, "ip link set lo up")
            for (index, (name, ip, pod, lbIP)) in HealthKernelTests.nodes.enumerated() {
                let node = try NetworkNamespace(name)
                nodes.append(node)
                try Self.sh(lb, "ip link add lb\(index) type veth peer name eth0 netns \(node.name)")
                try Self.sh(lb, "ip addr add \(lbIP)/24 dev lb\(index) && ip link set lb\(index) up")
                try Self.sh(
                    node, "ip link set lo up && ip addr add \(ip)/24 dev eth0 && ip link set eth0 up && ip addr add \(pod)/32 dev lo")
                servers.append(
                    try BackgroundProcess(
                        [
                            Command.which("ip")!, "netns", "exec", node.name, Command.which("python3")!, TestBed.script, "serve",
                            "--listen",
                            "\(pod),8080,tcp",
                        ]))
                followers.append(
                    try BackgroundProcess(
                        [
                            Command.which("ip")!, "netns", "exec", node.name, Svc2NftBinary.path, "apply", "--follow", "--sync-delay", "50",
                            "--node-name", name, "--node-ip", ip, "--cluster-cidr", "10.244.0.0/16", "--healthz-timeout", "1",
                            // Without self-healing: a refusal test plants another tool's element in our map.
                            "--metrics-bind-address", "0.0.0.0:10249", "--no-self-healing", input.path,
                        ]))
            }
        }

        static func sh(_ ns: NetworkNamespace, _ command: String) throws {
            let result = try ns.run(["sh", "-c", command])
            guard result.status == 0 else { throw BedError("\(command): \(result.stderr)") }
        }

        /// Sends the same watch events to every node.
        func send(_ events: String) { followers.forEach { $0.write(events) } }

        /// `curl` from the load balancer's namespace: status code and body.
        func get(_ url: String) throws -> (status: Int, body: String) {
            let result = try lb.run(["curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", url])
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        /// Each node's answers until `done` holds, or the last ones after `seconds`.
        func waitFor(seconds: Double = 15, _ done: () throws -> Bool) rethrows -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if try done() { return true }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return try done()
        }

        struct Poll: Decodable {
            struct Health: Decodable {
                let status: Int
                let body: String
            }
            struct Connection: Decodable {
                let node: String
                let reply: String?
                let error: String?
            }
            let health: [String: Health]
            let used: [String]
            let connections: [Connection]
        }

        /// The load balancer: probe, then 20 connections to the nodes that answered 200.
        func poll() throws -> Poll {
            var argv = [
                Command.which("python3")!, HealthKernelTests.poller, "--health-port", "\(HealthKernelTests.healthPort)",
                "--service-port", "\(HealthKernelTests.nodePort)",
            ]
            for node in HealthKernelTests.nodes { argv += ["--node", node.1] }
            let result = try lb.run(argv)
            guard result.status == 0 else { throw BedError("poller: \(result.stderr)") }
            return try JSONDecoder().decode(Poll.self, from: Data(result.stdout.utf8))
        }

        var logs: String { zip(HealthKernelTests.nodes, followers).map { "--- \($0.0.0):\n\($0.1.stderr)" }.joined(separator: "\n") }

        deinit {
            for follower in followers { _ = follower.finish(timeout: 5) }
            servers.removeAll()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func healthStatuses(_ cluster: Cluster) throws -> [Int] {
        try Self.nodes.map { try cluster.get("http://\($0.1):\(Self.healthPort)/").status }
    }

    func metrics(_ cluster: Cluster, _ node: Int = 0) throws -> String {
        try cluster.get("http://\(Self.nodes[node].1):10249/metrics").body
    }

    @Test func loadBalancerFollowsLocalEndpointsAndMetricsMoveWithSyncs() throws {
        if ApplyKernelTests.skip("health checks of apply --follow") { return }
        let cluster = try Cluster()
        #expect(try cluster.waitFor { try healthStatuses(cluster) == [200, 503] }, "node-a has the ready endpoint\n\(cluster.logs)")
        var poll = try cluster.poll()
        #expect(poll.used == [Self.nodes[0].1], "\(poll)")
        #expect(poll.connections.count == 20)
        #expect(
            poll.connections.allSatisfy { $0.reply?.hasPrefix("\(Self.nodes[0].2):8080 ") == true }, "every connection succeeds: \(poll)")
        let body = try #require(poll.health[Self.nodes[0].1]?.body)
        #expect(
            body
                == "{\n\t\"service\": {\n\t\t\"namespace\": \"web\",\n\t\t\"name\": \"app\"\n\t},\n\t\"localEndpoints\": 1,\n\t\"serviceProxyHealthy\": true\n}"
        )
        #expect(
            try cluster.get("http://\(Self.nodes[1].1):10256/healthz").status == 200,
            "node-b's proxy is healthy, only the Service is not here")

        let before = try metrics(cluster)
        #expect(PrometheusText.problems(before) == [], "\(before)")
        cluster.send(Self.event("MODIFIED", Self.slice("app", readyA: false, readyB: true)))
        #expect(try cluster.waitFor { try healthStatuses(cluster) == [503, 200] }, "the endpoint moved to node-b\n\(cluster.logs)")
        poll = try cluster.poll()
        #expect(poll.used == [Self.nodes[1].1], "\(poll)")
        #expect(
            poll.connections.count == 20 && poll.connections.allSatisfy { $0.reply?.hasPrefix("\(Self.nodes[1].2):8080 ") == true },
            "every connection succeeds: \(poll)")

        let after = try metrics(cluster)
        #expect(PrometheusText.problems(after) == [], "\(after)")
        func moved(_ name: String, by delta: Double) {
            let old = PrometheusText.value(name, in: before) ?? -1, new = PrometheusText.value(name, in: after) ?? -1
            #expect(new - old == delta, "\(name): \(old) -> \(new)")
        }
        moved("kubeproxy_sync_proxy_rules_endpoint_changes_total", by: 1)
        moved("kubeproxy_sync_proxy_rules_duration_seconds_count", by: 1)
        moved("kubeproxy_sync_partial_proxy_rules_duration_seconds_count", by: 1)
        moved("kubeproxy_sync_full_proxy_rules_duration_seconds_count", by: 0)
        moved("svc2nft_sync_transactions_total", by: 1)
        moved("kubeproxy_network_programming_duration_seconds_count", by: 1)
        moved(#"kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"}"#, by: 1)
        #expect(
            (PrometheusText.value("kubeproxy_sync_proxy_rules_last_timestamp_seconds", in: after) ?? 0)
                > (PrometheusText.value("kubeproxy_sync_proxy_rules_last_timestamp_seconds", in: before) ?? 0))
        #expect(
            (PrometheusText.value("svc2nft_sync_bytes_sent_total", in: after) ?? 0)
                > (PrometheusText.value("svc2nft_sync_bytes_sent_total", in: before) ?? 0))

        cluster.send(Self.event("MODIFIED", Self.slice("app", readyA: true, readyB: false)))
        #expect(try cluster.waitFor { try healthStatuses(cluster) == [200, 503] }, "and back to node-a\n\(cluster.logs)")
        #expect(try cluster.poll().connections.allSatisfy { $0.reply?.hasPrefix("\(Self.nodes[0].2):8080 ") == true })

        cluster.send(Self.event("DELETED", Self.app))
        #expect(
            try cluster.waitFor { try healthStatuses(cluster) == [0, 0] },
            "the health check port closes with its Service\n\(cluster.logs)")
        for follower in cluster.followers { #expect(follower.finish() == 0, "\(cluster.logs)") }
    }

    @Test func healthTurnsUnhealthyWhileTheKernelRefusesSyncsAndBack() throws {
        if ApplyKernelTests.skip("health of apply --follow under kernel refusals") { return }
        let cluster = try Cluster()
        #expect(try cluster.waitFor { try healthStatuses(cluster) == [200, 503] }, "\(cluster.logs)")
        // A real kernel refusal on node-a: another tool put an element for broken's
        // NodePort into our dispatch map, so adding broken's element clashes (EEXIST)
        // until a full sync (after the first refusal) reads the map and replaces it.
        try Cluster.sh(cluster.nodes[0], "nft add element ip svc2nft service-nodeports '{ tcp . 30101 : drop }'")
        let healthz = "http://\(Self.nodes[0].1):10256/healthz"
        #expect(try cluster.get(healthz).status == 200)

        cluster.send(Self.event("ADDED", Self.broken) + Self.event("ADDED", Self.slice("broken", readyA: true, readyB: true)))
        #expect(try cluster.waitFor { try cluster.get(healthz).status == 503 }, "refused syncs: unhealthy after 1 s\n\(cluster.logs)")
        #expect(try cluster.get("http://\(Self.nodes[0].1):10256/livez").status == 503)
        let check = try cluster.get("http://\(Self.nodes[0].1):\(Self.healthPort)/")
        #expect(check.status == 503 && check.body.contains("\"serviceProxyHealthy\": false"), "\(check)")
        #expect(try cluster.get("http://\(Self.nodes[1].1):10256/healthz").status == 200, "node-b applied the same change")
        let failing = try metrics(cluster)
        #expect((PrometheusText.value("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", in: failing) ?? 0) >= 1, "\(failing)")
        #expect((PrometheusText.value("svc2nft_kernel_refusals_total", in: failing) ?? 0) >= 1)

        cluster.send(Self.event("DELETED", Self.broken))
        #expect(try cluster.waitFor { try cluster.get(healthz).status == 200 }, "a successful sync heals\n\(cluster.logs)")
        #expect(try cluster.get("http://\(Self.nodes[0].1):\(Self.healthPort)/").status == 200)
        #expect(try cluster.poll().used == [Self.nodes[0].1])
    }
}

/// Setting up the namespaces failed (not a health answer).
struct BedError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
