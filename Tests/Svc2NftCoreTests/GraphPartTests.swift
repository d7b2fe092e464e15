import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// A graph lowered in parts (for a fresh install that starts before all is lowered) is
/// exactly the graph `Lowering.lower` gives (`IncrementalLoweringTests` checks the same
/// splitter over remembered contributions).
@Suite struct GraphPartTests {
    static let node = NodeConfig(nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.244.0.0/16")!])

    /// The tables the parts make, put together as the kernel would: the opening's sets
    /// (empty) and chains, each run's sets and chains after them, the closing's elements
    /// in the opening's sets. The closing's chains must be the opening's base chains.
    static func assembled(_ parts: [GraphPart]) -> [Table] {
        #expect(parts.first?.stage == .opening && parts.last?.stage == .closing)
        #expect(parts.dropFirst().dropLast().allSatisfy { $0.stage == .services })
        guard parts.count >= 2 else { return [] }
        var tables = parts[0].tables
        #expect(tables.allSatisfy { $0.sets.allSatisfy(\.elements.isEmpty) }, "the opening's sets are empty")
        for part in parts.dropFirst().dropLast() {
            #expect(part.tables.map(\.family) == tables.map(\.family))
            for (index, table) in part.tables.enumerated() {
                tables[index].sets += table.sets
                tables[index].chains += table.chains
            }
        }
        for (index, table) in parts[parts.count - 1].tables.enumerated() {
            #expect(
                table.chains == parts[0].tables[index].chains.filter { $0.kind != .regular }, "the closing's chains are the base chains")
            for set in table.sets {
                guard let at = tables[index].sets.firstIndex(where: { $0.name == set.name }) else {
                    Issue.record("closing set \(set.name) was not opened")
                    continue
                }
                #expect(tables[index].sets[at].withoutElements == set.withoutElements)
                tables[index].sets[at].elements = set.elements
            }
        }
        return tables
    }

    static func parts(_ cluster: Cluster) -> ([GraphPart], (chains: Int, rules: Int)) {
        var parts: [GraphPart] = []
        let counts = Lowering.lower(cluster, node: node) { parts.append($0) }
        return (parts, counts)
    }

    static func check(_ cluster: Cluster, runs expectedRuns: Int) {
        let graph = Lowering.lower(cluster, node: node)
        let (parts, counts) = Self.parts(cluster)
        #expect(parts.count == expectedRuns + 2)
        #expect(Self.assembled(parts) == graph.tables, "the parts must make the graph")
        #expect(counts.chains == graph.chainCount && counts.rules == graph.ruleCount)
        // A run ends where a Service's chains end: no Service is split between runs.
        var seen: Set<ServiceID> = []
        for part in parts where part.stage == .services {
            let services = Set(part.tables.flatMap { $0.chains.compactMap(\.owner?.service) })
            #expect(seen.isDisjoint(with: services))
            seen.formUnion(services)
        }
    }

    @Test(arguments: Fixture.all.filter { $0.exists("expected.nft") })
    func fixtureInPartsIsTheGraph(_ fixture: Fixture) throws {
        var objects: [RawObject] = []
        for input in fixture.inputs {
            objects += try ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
        }
        let (cluster, _) = try ClusterLoader.load(objects, keepGoing: true)
        Self.check(cluster, runs: 1)
    }

    /// 1,200 Services of every type, some with session affinity (their own sets), some
    /// without endpoints: lowered in six runs.
    @Test func largeClusterInPartsIsTheGraph() {
        var services: [Service] = []
        var slices: [ServiceID: [EndpointSlice]] = [:]
        let types: [ServiceType] = [.clusterIP, .nodePort, .loadBalancer]
        for i in 0..<1200 {
            let id = ServiceID(namespace: "ns-\(i % 7)", name: "svc-\(i)")
            let location = Location(file: "gen", path: "", object: id.description)
            let type = types[i % 3]
            services.append(
                Service(
                    id: id, type: type, clusterIPs: [IPAddress(v4: 0x0A60_0000 + UInt32(i))], isHeadless: false,
                    ports: [
                        ServicePort(
                            name: "http", protocol: .tcp, port: 80, targetPort: .number(8080),
                            nodePort: type == .clusterIP ? 0 : UInt16(30000 + i))
                    ],
                    externalIPs: [],
                    loadBalancerIngress: type == .loadBalancer
                        ? [LoadBalancerIngress(ip: IPAddress(v4: 0xC000_0200 + UInt32(i)), proxyMode: false)] : [],
                    loadBalancerSourceRanges: [], externalTrafficPolicy: i % 5 == 0 ? .local : .cluster,
                    internalTrafficPolicy: .cluster, sessionAffinity: i % 7 == 0 ? .clientIP(timeoutSeconds: 60) : .none,
                    healthCheckNodePort: 0,
                    externalName: nil, source: location))
            guard i % 11 != 0 else { continue }
            let endpoints = (0..<3).map {
                Endpoint(
                    address: IPAddress(v4: 0x0AF4_0000 + UInt32(i * 4 + $0)), ready: $0 != 2 || i % 2 == 0, serving: true,
                    terminating: false,
                    nodeName: $0 == 0 ? "node-a" : "node-b", zoneHints: [])
            }
            slices[id] = [
                EndpointSlice(
                    name: "s-\(i)", service: id, family: .v4, ports: [EndpointPort(name: "http", protocol: .tcp, port: 8080)],
                    endpoints: endpoints, source: location)
            ]
        }
        let cluster = Cluster(services: services, slices: slices)
        #expect(Lowering.lower(cluster, node: Self.node).tables[0].sets.contains { $0.owner != nil }, "some Services have their own sets")
        Self.check(cluster, runs: 6)
    }
}
