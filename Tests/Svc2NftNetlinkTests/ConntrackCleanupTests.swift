import Foundation
import Svc2NftCore
import Svc2NftNetlink
import Testing

/// The cleanup policy without a kernel: which conntrack entries `ServiceBackends` calls
/// stale, following kube-proxy's `CleanStaleEntries`.
@Suite struct ConntrackCleanupTests {
    static let yaml = """
        apiVersion: v1
        kind: Service
        metadata: {namespace: dns, name: resolver}
        spec:
          type: LoadBalancer
          clusterIP: 10.96.0.10
          externalIPs: [192.0.2.5]
          ports:
            - {name: dns, protocol: UDP, port: 53, targetPort: 5353, nodePort: 30053}
            - {name: web, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30080}
            - {name: sig, protocol: SCTP, port: 9, targetPort: 9, nodePort: 30009}
        status: {loadBalancer: {ingress: [{ip: 203.0.113.7}]}}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {namespace: dns, name: resolver-1, labels: {kubernetes.io/service-name: resolver}}
        addressType: IPv4
        ports: [{name: dns, protocol: UDP, port: 5353}, {name: web, protocol: TCP, port: 8080}, {name: sig, protocol: SCTP, port: 9}]
        endpoints:
          - {addresses: [10.244.1.10], conditions: {ready: true}}
          - {addresses: [10.244.1.11], conditions: {ready: false, serving: true, terminating: true}}
          - {addresses: [10.244.1.12], conditions: {ready: false, serving: false}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {namespace: dns, name: empty}
        spec:
          clusterIP: 10.96.0.20
          ports: [{name: dns, protocol: UDP, port: 53}]

        """

    static func backends(node: NodeConfig = NodeConfig(nodeIPs: [IPAddress("10.0.0.1")!])) throws -> ServiceBackends {
        let objects = try ManifestReader.parse(Array(yaml.utf8), file: "test.yaml")
        let (cluster, _) = try ClusterLoader.load(objects, keepGoing: false)
        return ServiceBackends(cluster: cluster, node: node)
    }

    static func entry(_ proto: L4Protocol = .udp, to destination: String, _ port: UInt16, reply: String) -> ConntrackEntry {
        ConntrackEntry(
            protocolNumber: proto.number, source: IPAddress("10.244.3.50")!, sourcePort: 40000, destination: IPAddress(destination)!,
            destinationPort: port, replySource: IPAddress(reply)!, replySourcePort: 5353)
    }

    @Test func entriesToServingEndpointsStay() throws {
        let b = try Self.backends()
        // Ready, and serving-but-terminating: both still serve (kube-proxy's IsServing).
        for reply in ["10.244.1.10", "10.244.1.11"] {
            for (destination, port) in [("10.96.0.10", 53), ("192.0.2.5", 53), ("203.0.113.7", 53), ("10.0.0.1", 30053)] {
                #expect(!ConntrackCleanup.isStale(Self.entry(to: destination, UInt16(port), reply: reply), b), "\(destination):\(port)")
            }
        }
    }

    @Test func entriesToGoneOrNotServingEndpointsAreStale() throws {
        let b = try Self.backends()
        for reply in ["10.244.1.12", "10.244.9.9"] {
            for (destination, port) in [("10.96.0.10", 53), ("192.0.2.5", 53), ("203.0.113.7", 53), ("10.0.0.1", 30053)] {
                #expect(ConntrackCleanup.isStale(Self.entry(to: destination, UInt16(port), reply: reply), b), "\(destination):\(port)")
            }
        }
    }

    /// Made while the Service had no endpoints (no DNAT): the reply source is the Service
    /// address itself, not an endpoint, so the entry goes once endpoints exist.
    @Test func unNATedEntriesOfAServiceWithEndpointsAreStale() throws {
        let b = try Self.backends()
        #expect(ConntrackCleanup.isStale(Self.entry(to: "10.96.0.10", 53, reply: "10.96.0.10"), b))
        #expect(ConntrackCleanup.isStale(Self.entry(to: "10.0.0.1", 30053, reply: "10.0.0.1"), b))
    }

    /// As kube-proxy: a Service without serving endpoints is left alone.
    @Test func servicesWithoutEndpointsAreLeftAlone() throws {
        let b = try Self.backends()
        #expect(!ConntrackCleanup.isStale(Self.entry(to: "10.96.0.20", 53, reply: "10.96.0.20"), b))
    }

    /// Only the families and protocols with frontends are dumped (each dump walks the
    /// kernel's whole table).
    @Test func onlyFamiliesAndProtocolsWithFrontendsAreRead() throws {
        let kinds = try Self.backends().families.map { "\($0.family.rawValue)/\($0.protocol.rawValue)" }
        #expect(kinds == ["\(IPFamily.v4.rawValue)/udp", "\(IPFamily.v4.rawValue)/sctp"])
    }

    @Test func tcpIsNeverTouchedAndSCTPIs() throws {
        let b = try Self.backends()
        #expect(!ConntrackCleanup.isStale(Self.entry(.tcp, to: "10.96.0.10", 80, reply: "10.244.9.9"), b))
        #expect(ConntrackCleanup.isStale(Self.entry(.sctp, to: "10.96.0.10", 9, reply: "10.244.9.9"), b))
        #expect(!ConntrackCleanup.isStale(Self.entry(.sctp, to: "10.96.0.10", 9, reply: "10.244.1.10"), b))
    }

    @Test func otherPortsAndAddressesAreNotServiceTraffic() throws {
        let b = try Self.backends()
        #expect(!ConntrackCleanup.isStale(Self.entry(to: "10.96.0.10", 54, reply: "10.244.9.9"), b))
        #expect(!ConntrackCleanup.isStale(Self.entry(to: "8.8.8.8", 53, reply: "8.8.8.8"), b))
        // With --node-ip, NodePorts count only on node addresses.
        #expect(!ConntrackCleanup.isStale(Self.entry(to: "198.51.100.1", 30053, reply: "198.51.100.1"), b))
        // Without, on any address (as kube-proxy).
        let any = try Self.backends(node: NodeConfig())
        #expect(ConntrackCleanup.isStale(Self.entry(to: "198.51.100.1", 30053, reply: "198.51.100.1"), any))
    }

    /// A restart with an unchanged cluster is quiet: every entry a current DNAT makes is live.
    @Test func liveEntriesOfEveryFrontendStay() throws {
        let b = try Self.backends()
        for (frontend, serving) in b.frontends {
            for reply in serving {
                #expect(
                    !b.isStale(
                        protocol: frontend.protocol, destination: frontend.address, destinationPort: frontend.port, replySource: reply))
            }
        }
        #expect(b.frontends.keys.allSatisfy { ServiceBackends.protocols.contains($0.protocol) })
    }

    @Test func cleanerCleansOnlyAfterUDPChanges() throws {
        var store = ClusterStore()
        var cleaner = ConntrackCleaner()
        #expect(cleaner.clean(node: NodeConfig()) == nil, "no UDP frontend: no dump, no log line")
        #expect(!cleaner.needsCleaning)
        func add(_ yaml: String) throws -> Set<ServiceID> {
            var touched: Set<ServiceID> = []
            for object in try ManifestReader.parse(Array(yaml.utf8), file: "test.yaml") {
                touched.formUnion(try store.apply(ObjectEvent(change: .upsert, object: object)))
            }
            return touched
        }
        // A TCP-only Service changes nothing the cleanup looks at.
        cleaner.record(
            try add(
                """
                apiVersion: v1
                kind: Service
                metadata: {namespace: web, name: shop}
                spec: {clusterIP: 10.96.1.1, ports: [{name: http, protocol: TCP, port: 80}]}
                """), from: store)
        #expect(!cleaner.needsCleaning)
        cleaner.record(try add(Self.yaml), from: store)
        #expect(cleaner.needsCleaning)
        // The union of the parts is what a whole-cluster build gives.
        let whole = ServiceBackends(cluster: store.cluster, node: NodeConfig())
        let parts = ServiceBackends(
            parts: store.services.values.map { ServiceBackends.part(of: $0, slices: store.slices(of: $0.id)) }, node: NodeConfig())
        #expect(whole == parts)
        #expect(!whole.isEmpty)
    }
}
