import Svc2NftCore
import Testing

/// Which Services get a health check port, and kube-proxy's LocalReadyEndpoints count.
@Suite struct ServiceHealthChecksTests {
    static let node = NodeConfig(nodeName: "node-a")

    static func service(
        _ name: String, type: ServiceType = .loadBalancer, policy: TrafficPolicy = .local, healthPort: UInt16 = 32000,
        ports: [String] = ["http", "https"]
    ) -> Service {
        Service(
            id: ServiceID(namespace: "ns", name: name), type: type, clusterIPs: [IPAddress("10.96.0.1")!], isHeadless: false,
            ports: ports.enumerated().map { index, port in
                ServicePort(name: port, protocol: .tcp, port: UInt16(80 + index), targetPort: .name(port), nodePort: UInt16(30080 + index))
            },
            externalIPs: [], loadBalancerIngress: [], loadBalancerSourceRanges: [], externalTrafficPolicy: policy,
            internalTrafficPolicy: .cluster, sessionAffinity: .none, healthCheckNodePort: healthPort, externalName: nil,
            source: Location(file: "f", path: "", object: "ns/\(name)"))
    }

    static func slice(_ service: String, _ endpoints: [(String, String?, Bool, Bool)], ports: [String] = ["http", "https"]) -> EndpointSlice
    {
        EndpointSlice(
            name: "\(service)-1", service: ServiceID(namespace: "ns", name: service), family: .v4,
            ports: ports.enumerated().map { EndpointPort(name: $1, protocol: .tcp, port: UInt16(8080 + $0)) },
            endpoints: endpoints.map { ip, node, ready, terminating in
                Endpoint(
                    address: IPAddress(ip)!, ready: ready, serving: ready || terminating, terminating: terminating, nodeName: node,
                    zoneHints: [])
            },
            source: Location(file: "f", path: "", object: "ns/\(service)-1"))
    }

    @Test func countsDistinctLocalReadyIPsAcrossPorts() {
        let cluster = Cluster(
            services: [Self.service("app")],
            slices: [
                ServiceID(namespace: "ns", name: "app"): [
                    Self.slice(
                        "app",
                        [
                            ("10.244.1.1", "node-a", true, false), ("10.244.1.2", "node-a", true, false),
                            ("10.244.1.3", "node-a", false, true), ("10.244.1.4", "node-a", false, false),
                            ("10.244.2.1", "node-b", true, false), ("10.244.3.1", nil, true, false),
                        ])
                ]
            ])
        let checks = ServiceHealthChecks.compute(cluster, node: Self.node)
        #expect(
            checks == [ServiceID(namespace: "ns", name: "app"): ServiceHealthCheck(port: 32000, localEndpoints: 2)],
            "two ports of one pod are one endpoint; terminating (even serving), not ready and remote ones do not count")
    }

    @Test func onlyLoadBalancersWithLocalPolicyAndAPort() {
        let services = [
            Self.service("lb-local"), Self.service("lb-cluster", policy: .cluster), Self.service("np-local", type: .nodePort),
            Self.service("no-port", healthPort: 0), Self.service("no-ports", ports: []),
        ]
        let checks = ServiceHealthChecks.compute(Cluster(services: services, slices: [:]), node: Self.node)
        #expect(checks == [ServiceID(namespace: "ns", name: "lb-local"): ServiceHealthCheck(port: 32000, localEndpoints: 0)])
    }

    @Test func withoutANodeNameNothingIsLocal() {
        let id = ServiceID(namespace: "ns", name: "app")
        let cluster = Cluster(services: [Self.service("app")], slices: [id: [Self.slice("app", [("10.244.1.1", "node-a", true, false)])]])
        #expect(ServiceHealthChecks.compute(cluster, node: NodeConfig())[id]?.localEndpoints == 0)
        #expect(ServiceHealthChecks.compute(cluster, node: Self.node)[id]?.localEndpoints == 1)
    }

    @Test func noLocalEndpointsCountsLocalPolicyPortsThatDropTraffic() {
        let app = ServiceID(namespace: "ns", name: "app"), none = ServiceID(namespace: "ns", name: "none")
        let remote = ServiceID(namespace: "ns", name: "remote")
        let cluster = Cluster(
            services: [Self.service("app"), Self.service("remote"), Self.service("none"), Self.service("cluster", policy: .cluster)],
            slices: [
                app: [Self.slice("app", [("10.244.1.1", "node-a", true, false)])],
                remote: [Self.slice("remote", [("10.244.2.1", "node-b", true, false)])],
                none: [Self.slice("none", [])],
            ])
        #expect(
            NoLocalEndpoints(cluster, node: Self.node) == NoLocalEndpoints(internal: 0, external: 2),
            "remote's two ports drop external traffic here; a Service without endpoints rejects instead; Cluster policy never counts")
    }
}
