import Svc2NftCore
import Testing

/// kube-proxy's CategorizeEndpoints, cell by cell.
@Suite struct EndpointSelectionTests {
    static let node = NodeConfig(nodeName: "node-a", nodeZone: "zone-a")

    static func service(external: TrafficPolicy = .cluster, itp: TrafficPolicy = .cluster, type: ServiceType = .nodePort) -> Service {
        Service(
            id: ServiceID(namespace: "ns", name: "svc"), type: type, clusterIPs: [IPAddress("10.96.0.1")!], isHeadless: false,
            ports: [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .number(8080), nodePort: 30080)],
            externalIPs: [], loadBalancerIngress: [], loadBalancerSourceRanges: [], externalTrafficPolicy: external,
            internalTrafficPolicy: itp, sessionAffinity: .none, healthCheckNodePort: 0, externalName: nil,
            source: Location(file: "f", path: "", object: "ns/svc"))
    }

    static func ep(_ ip: String, node: String?, ready: Bool = true, serving: Bool? = nil, terminating: Bool = false, zones: [String] = [])
        -> PortEndpoint
    {
        PortEndpoint(
            address: IPAddress(ip)!, port: 8080,
            endpoint: Endpoint(
                address: IPAddress(ip)!, ready: ready, serving: serving ?? ready, terminating: terminating, nodeName: node, zoneHints: zones
            ))
    }

    func addresses(_ list: [PortEndpoint]) -> [String] { list.map(\.address.description) }

    @Test func clusterPolicyUsesReadyEndpointsOnly() {
        let s = EndpointSelection(
            endpoints: [Self.ep("10.0.0.1", node: "node-a"), Self.ep("10.0.0.2", node: "node-b", ready: false)],
            service: Self.service(), node: Self.node)
        #expect(addresses(s.cluster) == ["10.0.0.1"])
        #expect(s.local.isEmpty)
        #expect(addresses(s.allReachable) == ["10.0.0.1"])
    }

    @Test func clusterPolicyFallsBackToServingTerminating() {
        let s = EndpointSelection(
            endpoints: [
                Self.ep("10.0.0.1", node: "node-b", ready: false, serving: true, terminating: true),
                Self.ep("10.0.0.2", node: "node-b", ready: false, serving: false, terminating: true),
            ], service: Self.service(), node: Self.node)
        #expect(addresses(s.cluster) == ["10.0.0.1"])
        #expect(s.clusterUsesTerminating)
    }

    @Test func externalLocalPrefersReadyLocalThenTerminatingLocal() {
        let svc = Self.service(external: .local)
        let ready = EndpointSelection(
            endpoints: [
                Self.ep("10.0.0.1", node: "node-a"), Self.ep("10.0.0.2", node: "node-b"),
                Self.ep("10.0.0.3", node: "node-a", ready: false, serving: true, terminating: true),
            ],
            service: svc, node: Self.node)
        #expect(addresses(ready.local) == ["10.0.0.1"])
        #expect(addresses(ready.cluster) == ["10.0.0.1", "10.0.0.2"])

        let terminating = EndpointSelection(
            endpoints: [
                Self.ep("10.0.0.2", node: "node-b"), Self.ep("10.0.0.3", node: "node-a", ready: false, serving: true, terminating: true),
            ],
            service: svc, node: Self.node)
        #expect(addresses(terminating.local) == ["10.0.0.3"])
        #expect(terminating.localUsesTerminating)
        #expect(addresses(terminating.allReachable) == ["10.0.0.2", "10.0.0.3"])
    }

    @Test func internalLocalOnlyClusterIPServiceHasNoClusterEndpoints() {
        let s = EndpointSelection(
            endpoints: [Self.ep("10.0.0.1", node: "node-a"), Self.ep("10.0.0.2", node: "node-b")],
            service: Self.service(itp: .local, type: .clusterIP), node: Self.node)
        #expect(s.cluster.isEmpty)
        #expect(addresses(s.local) == ["10.0.0.1"])
        #expect(addresses(s.allReachable) == ["10.0.0.1"])
        #expect(s.hasAnyEndpoints)
    }

    @Test func internalLocalWithOnlyRemoteEndpointsStillHasEndpoints() {
        let s = EndpointSelection(
            endpoints: [Self.ep("10.0.0.2", node: "node-b")], service: Self.service(itp: .local, type: .clusterIP), node: Self.node)
        #expect(s.allReachable.isEmpty)
        #expect(s.hasAnyEndpoints, "kube-proxy drops (not rejects) when endpoints exist only elsewhere")
    }

    @Test func topologyHintsNarrowClusterEndpoints() {
        let hinted = EndpointSelection(
            endpoints: [Self.ep("10.0.0.1", node: "node-b", zones: ["zone-a"]), Self.ep("10.0.0.2", node: "node-c", zones: ["zone-b"])],
            service: Self.service(type: .clusterIP), node: Self.node)
        #expect(addresses(hinted.cluster) == ["10.0.0.1"])
        let unhinted = EndpointSelection(
            endpoints: [Self.ep("10.0.0.1", node: "node-b", zones: ["zone-a"]), Self.ep("10.0.0.2", node: "node-c")],
            service: Self.service(type: .clusterIP), node: Self.node)
        #expect(addresses(unhinted.cluster) == ["10.0.0.1", "10.0.0.2"])
    }
}
