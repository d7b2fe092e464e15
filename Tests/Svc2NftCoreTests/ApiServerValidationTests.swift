import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// svc2nft accepts what the API server accepts and refuses what it refuses, field by
/// field (Kubernetes `pkg/apis/core/validation` and `pkg/apis/discovery/validation`, with
/// v1 defaulting). Each row changes one field of a valid object. Where svc2nft is
/// stricter on purpose, the row is in `stricterOnPurpose` and README says why.
@Suite struct ApiServerValidationTests {
    /// A valid Service with `metadata`, and `spec` lines replaced (same key) or added.
    static func service(metadata: String = "{namespace: shop, name: web}", spec: String = "") -> String {
        var lines = ["clusterIP: 10.96.0.10", "ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]"]
        for line in spec.split(separator: "\n").map(String.init) {
            let key = line.prefix { $0 != ":" }
            lines.removeAll { $0.hasPrefix(key + ":") }
            lines.append(line)
        }
        return "apiVersion: v1\nkind: Service\nmetadata: \(metadata)\nspec:\n" + lines.map { "  " + $0 }.joined(separator: "\n")
    }

    static func port(_ fields: String) -> String {
        service(spec: "ports: [{\(fields)}]")
    }

    static func slice(
        name: String = "web-1", label: String = "web", addressType: String = "IPv4", port: String = "{name: http, port: 8080}"
    )
        -> String
    {
        service() + """

            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {namespace: shop, name: \(name), labels: {kubernetes.io/service-name: \(label)}}
            addressType: \(addressType)
            ports: [\(port)]
            endpoints: [{addresses: [10.244.0.5]}]
            """
    }

    /// Objects the API server stores.
    static let accepted: [(String, String)] = [
        ("kubectl's port name 80-8080", port("name: 80-8080, port: 80, targetPort: 8080")),
        ("port name longer than 15", port("name: http-metrics-port, port: 80")),
        ("port name of digits only", port("name: \"5432\", port: 5432")),
        ("63-character port name", port("name: \(String(repeating: "a", count: 63)), port: 80")),
        ("one port without a name", port("port: 80")),
        ("protocol UDP", port("name: dns, port: 53, protocol: UDP")),
        ("protocol SCTP", port("name: s, port: 9, protocol: SCTP")),
        ("empty protocol (defaults to TCP)", port("name: http, port: 80, protocol: \"\"")),
        ("targetPort 0 (defaults to port)", port("name: http, port: 80, targetPort: 0")),
        ("targetPort \"\" (defaults to port)", port("name: http, port: 80, targetPort: \"\"")),
        ("named targetPort", port("name: http, port: 80, targetPort: http-alt")),
        ("port 65535", port("name: http, port: 65535")),
        ("Service name of 63", service(metadata: "{namespace: shop, name: w\(String(repeating: "1", count: 62))}")),
        ("namespace starting with a digit", service(metadata: "{namespace: 1shop, name: web}")),
        ("no namespace (default)", service(metadata: "{name: web}")),
        ("no clusterIP yet", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{name: a, port: 80}]}"),
        ("clusterIP None", service(spec: "clusterIP: None")),
        ("clusterIP IPv6", service(spec: "clusterIP: fd00::10")),
        ("dual-stack clusterIPs", service(spec: "clusterIPs: [10.96.0.10, fd00::10]")),
        ("type NodePort", service(spec: "type: NodePort")),
        ("type LoadBalancer", service(spec: "type: LoadBalancer")),
        ("ExternalName", service(spec: "type: ExternalName\nexternalName: db.example.com")),
        ("ExternalName with a final dot, no ports", service(spec: "type: ExternalName\nexternalName: db.example.com.\nports: []")),
        ("headless without ports", service(spec: "clusterIP: None\nports: []")),
        ("externalTrafficPolicy empty", service(spec: "externalTrafficPolicy: \"\"")),
        ("externalTrafficPolicy with externalIPs", service(spec: "externalIPs: [192.0.2.1]\nexternalTrafficPolicy: Local")),
        ("affinity ClientIP without config (defaults)", service(spec: "sessionAffinity: ClientIP")),
        ("externalTrafficPolicy Local", service(spec: "type: NodePort\nexternalTrafficPolicy: Local")),
        ("affinity timeout 86400", service(spec: "sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 86400}}")),
        ("affinity timeout 1", service(spec: "sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 1}}")),
        (
            "source range padded with spaces", service(spec: "type: LoadBalancer\nloadBalancerSourceRanges: [\" 10.0.0.0/8 \"]")
        ),
        ("slice port name 80-8080", slice(port: "{name: 80-8080, port: 8080}")),
        ("slice name with dots", slice(name: "web.v1")),
        ("slice label that names no Service", slice(label: "Web_1")),
        ("slice FQDN", slice(addressType: "FQDN")),
        (
            "Endpoints without a Service",
            "apiVersion: v1\nkind: Endpoints\nmetadata: {namespace: kube-system, name: kube-scheduler}"
        ),
        ("Endpoints named as a subdomain", "apiVersion: v1\nkind: Endpoints\nmetadata: {namespace: a, name: a.b}"),
        (
            "typed ServiceList without item kinds",
            #"{"kind": "ServiceList", "apiVersion": "v1", "items": [{"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}]}"#
        ),
    ]

    /// Objects the API server refuses.
    static let rejected: [(String, String)] = [
        ("port name with '_'", port("name: a_b, port: 80")),
        ("port name in capitals", port("name: HTTP, port: 80")),
        ("port name starting with '-'", port("name: -a, port: 80")),
        ("port name with a dot", port("name: a.b, port: 80")),
        ("64-character port name", port("name: \(String(repeating: "a", count: 64)), port: 80")),
        ("two ports, one without a name", service(spec: "ports: [{name: a, port: 80}, {port: 81}]")),
        ("two ports with one name", service(spec: "ports: [{name: a, port: 80}, {name: a, port: 81}]")),
        ("protocol in lowercase", port("name: http, port: 80, protocol: tcp")),
        ("protocol ICMP", port("name: http, port: 80, protocol: ICMP")),
        ("port 0", port("name: http, port: 0")),
        ("port 65536", port("name: http, port: 65536")),
        ("port 80.5", port("name: http, port: 80.5")),
        ("quoted targetPort number", port("name: http, port: 80, targetPort: \"8080\"")),
        ("targetPort name of 16", port("name: http, port: 80, targetPort: abcdefghijklmnop")),
        ("targetPort 65536", port("name: http, port: 80, targetPort: 65536")),
        ("nodePort 70000", service(spec: "type: NodePort\nports: [{name: a, port: 80, nodePort: 70000}]")),
        ("Service name starting with a digit", service(metadata: "{namespace: shop, name: 1web}")),
        ("Service name in capitals", service(metadata: "{namespace: shop, name: Web}")),
        ("Service name with a dot", service(metadata: "{namespace: shop, name: web.v1}")),
        ("Service name of 64", service(metadata: "{namespace: shop, name: w\(String(repeating: "1", count: 63))}")),
        ("namespace with a dot", service(metadata: "{namespace: a.b, name: web}")),
        ("clusterIP not an IP", service(spec: "clusterIP: 10.96.0.256")),
        ("type unknown", service(spec: "type: Internal")),
        ("externalTrafficPolicy lowercase", service(spec: "type: NodePort\nexternalTrafficPolicy: local")),
        ("affinity timeout 0", service(spec: "sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}")),
        (
            "affinity timeout 86401",
            service(spec: "sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}")
        ),
        ("sessionAffinity unknown", service(spec: "sessionAffinity: Cookie")),
        ("source ranges on a ClusterIP Service", service(spec: "loadBalancerSourceRanges: [10.0.0.0/8]")),
        ("nodePort on a ClusterIP Service", service(spec: "ports: [{name: a, port: 80, nodePort: 30080}]")),
        ("clusterIPs disagreeing with clusterIP", service(spec: "clusterIPs: [10.96.0.11]")),
        ("affinity config without ClientIP", service(spec: "sessionAffinityConfig: {clientIP: {timeoutSeconds: 10}}")),
        ("externalTrafficPolicy on a ClusterIP Service", service(spec: "externalTrafficPolicy: Local")),
        ("source range /33", service(spec: "type: LoadBalancer\nloadBalancerSourceRanges: [10.0.0.0/33]")),
        ("ExternalName not a DNS name", service(spec: "type: ExternalName\nexternalName: \"db example\"")),
        ("ExternalName in capitals", service(spec: "type: ExternalName\nexternalName: DB.example.com")),
        ("NodePort headless", service(spec: "type: NodePort\nclusterIP: None")),
        ("LoadBalancer headless", service(spec: "type: LoadBalancer\nclusterIP: None")),
        ("no ports", service(spec: "ports: []")),
        ("slice port name with '_'", slice(port: "{name: a_b, port: 8080}")),
        ("slice addressType unknown", slice(addressType: "IPv5")),
        ("slice label not a label value", slice(label: "\"a b\"")),
        ("slice name with '_'", slice(name: "web_1")),
    ]

    /// Accepted by the API server, refused by svc2nft on purpose (README, "Stricter than
    /// the API server").
    static let stricterOnPurpose: [(String, String)] = [
        ("YAML alias", "apiVersion: v1\nkind: Service\nmetadata: &m {name: web}\nspec: {clusterIP: None, selector: *m}"),
        ("YAML merge key", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  <<: {clusterIP: None}"),
        ("IPv4 with a leading zero", service(spec: "clusterIP: 10.96.0.010")),
    ]

    static func load(_ text: String) throws {
        let objects = try ManifestReader.parse(Array(text.utf8), file: "t.yaml")
        _ = try ClusterLoader.load(objects, keepGoing: false)
    }

    @Test(arguments: accepted)
    func acceptsWhatTheApiServerAccepts(_ name: String, _ text: String) {
        #expect(throws: Never.self, "\(name)") { try Self.load(text) }
    }

    /// Refused by validation (a `LoadFailure` naming the field), not by a syntax error in
    /// the row itself.
    @Test(arguments: rejected)
    func refusesWhatTheApiServerRefuses(_ name: String, _ text: String) {
        #expect(throws: LoadFailure.self, "\(name)") { try Self.load(text) }
    }

    @Test(arguments: stricterOnPurpose)
    func refusesOnPurpose(_ name: String, _ text: String) {
        #expect(throws: (any Error).self, "\(name)") { try Self.load(text) }
    }

    /// Every shape `kubectl create service` prints loads, as printed and as the API server
    /// stores it (fixtures/kubectl-create*, also golden-tested).
    @Test(arguments: ["kubectl-create", "kubectl-create-allocated"])
    func kubectlCreateOutputLoads(_ name: String) throws {
        let fixture = Fixture.named(name)
        let text = try #require(fixture.read("input.yaml"))
        let objects = try ManifestReader.parse(Array(text.utf8), file: "input.yaml")
        let (cluster, _) = try ClusterLoader.load(objects, keepGoing: false)
        #expect(cluster.services.count == 6)
        #expect(cluster.services.allSatisfy { $0.ports.allSatisfy { !$0.name.isEmpty } })
    }

    /// A typed List's items without `kind` take it from the List, in both readers (the
    /// small-file tree and a large List's deferred items).
    @Test func typedListsNameTheirItems() throws {
        let item = #"{"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}"#
        for count in [1, 2 * JSONParser.parallelThreshold / item.utf8.count] {
            let text = #"{"kind": "ServiceList", "items": ["# + Array(repeating: item, count: count).joined(separator: ",") + "]}"
            let objects = try ManifestReader.parse(Array(text.utf8), file: "list.json")
            #expect(objects.count == count && objects.allSatisfy { $0.kind == "Service" })
        }
        let endpoints = #"{"kind": "EndpointsList", "items": [{"metadata": {"name": "x"}}]}"#
        #expect(try ManifestReader.parse(Array(endpoints.utf8), file: "e.json").map(\.kind) == ["Endpoints"])
        let plain = #"{"kind": "List", "items": [{"metadata": {"name": "x"}}]}"#
        #expect(try ManifestReader.parse(Array(plain.utf8), file: "l.json").map(\.kind) == [""])
    }
}
