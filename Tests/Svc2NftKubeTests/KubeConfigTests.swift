import Foundation
import Svc2NftAgent
import Svc2NftCore
import Svc2NftKube
import Testing

/// Where the API server is and how to authenticate, read as kubectl reads it.
@Suite struct KubeConfigTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-kubeconfig-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func currentContextWithRelativeFilesAndData() throws {
        _ = try write("ca.crt", "CA PEM")
        _ = try write("token", "file-token\n")
        let path = try write(
            "config",
            """
            apiVersion: v1
            kind: Config
            current-context: b
            clusters:
            - {name: one, cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt}}
            - {name: two, cluster: {server: "https://[fd00::1]:443", insecure-skip-tls-verify: true}}
            users:
            - {name: u1, user: {tokenFile: token}}
            - {name: u2, user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}}
            contexts:
            - {name: a, context: {cluster: one, user: u1}}
            - {name: b, context: {cluster: two, user: u2}}
            """)
        let b = try KubeConfig.file(path)
        #expect(b.server.absoluteString == "https://[fd00::1]:443")
        #expect(b.insecureSkipTLSVerify)
        #expect(b.clientCertificate == Array("CERT".utf8) && b.clientKey == Array("KEY".utf8))
        #expect(b.token == nil)

        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "current-context: b", with: "current-context: a")
        let a = try KubeConfig.file(try write("config-a", text))
        #expect(a.certificateAuthority == Array("CA PEM".utf8), "a relative path is relative to the file")
        #expect(try a.token?.current() == "file-token", "a token file is read (and trimmed) when used")
        _ = try write("token", "rotated\n")
        #expect(try a.token?.current() == "rotated", "a rotated token needs no restart")
    }

    @Test func errorsNameTheFieldToFix() throws {
        let missing = try write("missing", "apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts: []\n")
        #expect(throws: KubeConfigError.invalid(missing, field: "contexts", problem: "has no entry named \"x\"")) {
            try KubeConfig.file(missing)
        }
        let exec = try write(
            "exec",
            """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://k:6443"}}]
            users: [{name: u, user: {exec: {command: aws}}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """)
        #expect(throws: KubeConfigError.invalid(exec, field: "users[u].user.exec", problem: "is not supported; use a token or a client certificate")) {
            try KubeConfig.file(exec)
        }
        #expect(throws: KubeConfigError.notInCluster) { try KubeConfig.load(kubeconfig: nil, environment: [:]) }
    }

    @Test func inClusterFromTheServiceAccount() throws {
        _ = try write("token", "sa-token")
        _ = try write("ca.crt", "SA CA")
        let config = try KubeConfig.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], directory: directory.path)
        #expect(config.server.absoluteString == "https://[fd00::1]:443")
        #expect(try config.token?.current() == "sa-token")
        #expect(config.certificateAuthority == Array("SA CA".utf8))
        #expect(config.source == "in-cluster")
    }

    @Test func nodeInfoAsKubeProxyReadsIt() throws {
        let node: Value = .object([
            "metadata": .object([
                "labels": .object(["topology.kubernetes.io/zone": .string("zone-a")]),
                "deletionTimestamp": .string("2026-12-05T00:00:00Z"),
            ]),
            "spec": .object(["podCIDRs": .array([.string("10.244.1.0/24"), .string("fd00:10:244:1::/64")])]),
            "status": .object([
                "addresses": .array([
                    .object(["type": .string("Hostname"), "address": .string("node-a")]),
                    .object(["type": .string("ExternalIP"), "address": .string("203.0.113.5")]),
                    .object(["type": .string("InternalIP"), "address": .string("192.168.1.10")]),
                    .object(["type": .string("InternalIP"), "address": .string("192.168.1.11")]),
                    .object(["type": .string("ExternalIP"), "address": .string("2001:db8::5")]),
                ])
            ]),
        ])
        let info = NodeInfo(node)
        #expect(info.addresses.map(\.description) == ["192.168.1.10", "2001:db8::5"], "first InternalIP per family, else ExternalIP")
        #expect(info.zone == "zone-a")
        #expect(info.podCIDRs.count == 2)
        #expect(!info.eligible, "a Node being deleted is not eligible")

        var given = NodeConfig(nodeName: "node-a")
        given.clusterCIDRs = [CIDR("10.0.0.0/8")!]
        let filled = given.filled(from: info, mode: .nodeCIDR)
        #expect(filled.nodeIPs == info.addresses && filled.nodeZone == "zone-a" && filled.clusterCIDRs == info.podCIDRs)
        #expect(given.filled(from: info, mode: .clusterCIDR).clusterCIDRs == given.clusterCIDRs)
    }

    @Test func aFreshListReplacesWhatTheStoreHeld() throws {
        func service(_ name: String, _ ip: String) -> RawObject {
            RawObject(
                file: "list", path: "items",
                value: .object([
                    "kind": .string("Service"), "metadata": .object(["namespace": .string("ns"), "name": .string(name)]),
                    "spec": .object([
                        "clusterIP": .string(ip),
                        "ports": .array([.object(["port": .number(80), "protocol": .string("TCP")])]),
                    ]),
                ]))
        }
        var store = ClusterStore()
        _ = store.replace(kind: "Service", with: [service("a", "10.96.0.1"), service("b", "10.96.0.2")])
        let bad = RawObject(file: "list", path: "items", value: .object([
            "kind": .string("Service"), "metadata": .object(["namespace": .string("ns"), "name": .string("b")]),
            "spec": .object(["clusterIP": .string("10.96.0.2"), "ports": .array([.object(["port": .number(70000)])])]),
        ]))
        let (touched, errors) = store.replace(kind: "Service", with: [bad, service("c", "10.96.0.3")])
        #expect(Set(store.services.keys.map(\.description)) == ["ns/b", "ns/c"], "a is gone; invalid b keeps its previous version")
        #expect(errors.count == 1)
        #expect(touched.map(\.description).sorted() == ["ns/a", "ns/c"])
    }
}
