import Foundation
import Svc2NftTestSupport
import Testing

/// The API server double speaks the protocol a real client expects: the real `kubectl`
/// (Debian's kubernetes-client) lists, pages and watches through it over HTTPS with a
/// bearer token, inside a network namespace the test made.
@Suite struct APIServerDoubleTests {
    static func skip(_ what: String) -> Bool {
        let reason =
            TestBed.unavailableReason ?? (Command.which("kubectl") == nil ? "kubectl is not installed" : nil)
            ?? (Command.which("openssl") == nil ? "openssl is not installed" : nil)
        guard let reason else { return false }
        print("SKIP \(what): \(reason)")
        return true
    }

    /// A double with two Services, their slices and a Node, served in a new namespace.
    struct Served {
        let namespace: NetworkNamespace
        let certificates: TestCertificates
        let double: APIServerDouble
        let listener: APIServerListener
        let kubeconfig: String

        init(token: String = "test-token") throws {
            namespace = try NetworkNamespace("api")
            _ = try namespace.run(["ip", "link", "set", "lo", "up"])
            certificates = try TestCertificates()
            double = APIServerDouble(token: "test-token", bookmarkInterval: .milliseconds(200))
            double.put(KubeObjects.service("web", namespace: "shop", clusterIP: "10.96.0.10"))
            double.put(KubeObjects.service("api", namespace: "shop", clusterIP: "10.96.0.11"))
            double.put(KubeObjects.slice("web-abc", service: "web", namespace: "shop", addresses: ["10.244.1.5"]))
            double.put(KubeObjects.node("node-a", internalIP: "192.168.1.10"))
            listener = try APIServerListener(double, certificates: certificates, namespace: namespace.name, port: 6443)
            kubeconfig = try certificates.kubeconfig(server: listener.url, token: token)
        }

        func kubectl(_ arguments: [String]) throws -> ProcessResult {
            try namespace.run(["kubectl", "--kubeconfig", kubeconfig, "--request-timeout", "10s"] + arguments)
        }
    }

    @Test func kubectlListsServicesAcrossNamespaces() throws {
        if Self.skip("kubectl against the double") { return }
        let served = try Served()
        let result = try served.kubectl(["get", "services", "-A", "-o", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let list = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let items = list?["items"] as? [[String: Any]] ?? []
        let names = items.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(names.sorted() == ["api", "web"], "\(result.stdout)")
        // kubectl found the resource through discovery and asked for pages.
        #expect(served.double.requests.contains { $0.hasPrefix("GET /api/v1/services?limit=") }, "\(served.double.requests)")
    }

    @Test func kubectlFollowsContinueTokens() throws {
        if Self.skip("kubectl paging") { return }
        let served = try Served()
        let result = try served.kubectl(["get", "services", "-A", "--chunk-size", "1", "-o", "name"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n") == ["service/api", "service/web"], "\(result.stdout)")
        #expect(served.double.requests.contains { $0.contains("continue=") }, "\(served.double.requests)")
    }

    @Test func kubectlReadsTypedListsOfOtherGroups() throws {
        if Self.skip("kubectl endpointslices") { return }
        let served = try Served()
        let slices = try served.kubectl(["get", "endpointslices.discovery.k8s.io", "-n", "shop", "-o", "name"])
        #expect(slices.status == 0, "\(slices.stderr)")
        #expect(slices.stdout.contains("endpointslice.discovery.k8s.io/web-abc"), "\(slices.stdout)")
        let node = try served.kubectl(["get", "nodes", "--field-selector", "metadata.name=node-a", "-o", "name"])
        #expect(node.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "node/node-a", "\(node.stdout) \(node.stderr)")
    }

    @Test func kubectlRawWatchStreamsEventsAndBookmarks() throws {
        if Self.skip("kubectl raw watch") { return }
        let served = try Served()
        let version = served.double.resourceVersion
        let double = served.double
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) {
            double.put(KubeObjects.service("db", namespace: "shop", clusterIP: "10.96.0.12"))
            double.delete(kind: "Service", namespace: "shop", name: "api")
        }
        let result = try served.kubectl([
            "get", "--raw", "/api/v1/services?watch=true&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=\(version)",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let events = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let types = events.compactMap { $0["type"] as? String }
        #expect(types.filter { $0 != "BOOKMARK" } == ["ADDED", "DELETED"], "\(result.stdout)")
        #expect(types.contains("BOOKMARK"), "\(result.stdout)")
    }

    @Test func oldVersionsAreGoneAndTokensAreChecked() throws {
        if Self.skip("kubectl 410 and 401") { return }
        let served = try Served()
        served.double.compact()
        let gone = try served.kubectl(["get", "--raw", "/api/v1/services?watch=true&resourceVersion=1&timeoutSeconds=1"])
        #expect(gone.stdout.contains("\"code\":410"), "\(gone.stdout) \(gone.stderr)")
        let wrong = try Served(token: "wrong")
        let denied = try wrong.kubectl(["get", "services", "-A"])
        #expect(denied.status != 0)
        #expect(denied.stderr.contains("Unauthorized"), "\(denied.stderr)")
    }
}
