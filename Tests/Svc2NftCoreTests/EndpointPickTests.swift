import Foundation
import Svc2NftCore
import Testing

/// The random pick among a Service's endpoints: exactly 1/N each, and few rules per new
/// connection however many endpoints there are (groups of at most 16, see
/// `Versioning.policyChain`). The kernel side is the `many-endpoints` fixture's
/// chi-square flow.
@Suite struct EndpointPickTests {
    static func graph(endpoints count: Int) throws -> RuleGraph {
        let addresses = (0..<count).map { "  - {addresses: [10.244.\($0 / 250).\($0 % 250 + 1)]}" }.joined(separator: "\n")
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {namespace: big, name: web}
            spec: {clusterIP: 10.96.5.5, ports: [{name: http, port: 80, targetPort: 8080}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {namespace: big, name: web-1, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            ports: [{name: http, port: 8080}]
            endpoints:
            \(addresses)
            """
        let objects = try ManifestReader.parse(Array(yaml.utf8), file: "pick.yaml")
        let (cluster, _) = try ClusterLoader.load(objects, keepGoing: false)
        return Lowering.lower(cluster, node: NodeConfig(nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.244.0.0/16")!]))
    }

    @Test(arguments: [1, 2, 16, 17, 40, 256, 257, 1000])
    func everyEndpointGetsExactlyItsShare(_ count: Int) throws {
        let graph = try Self.graph(endpoints: count)
        let walk = PacketWalk(graph: graph, family: .v4, nodeIPs: [IPAddress("10.0.0.1")!])
        let packet = Packet(source: IPAddress("10.244.9.9")!, destination: IPAddress("10.96.5.5")!, destinationPort: 80, proto: .tcp)
        var shares: [IPAddress: Double] = [:]
        for outcome in walk.outcomes(of: packet) {
            guard case .endpoint(let address, 8080) = outcome.verdict else {
                Issue.record("not an endpoint: \(outcome.verdict)")
                continue
            }
            shares[address, default: 0] += outcome.probability
        }
        #expect(shares.count == count)
        for (address, share) in shares {
            #expect(abs(share - 1 / Double(count)) < 1e-12, "\(address) gets \(share), not 1/\(count)")
        }

        // A pick chain holds at most 16 choices, and a connection passes at most
        // ceil(log16 N) of them.
        let table = graph.tables[0]
        let pickChains = table.chains.filter { $0.name.text.hasPrefix("svc-") }
        for chain in pickChains {
            let picks = chain.rules.filter { rule in rule.exprs.contains { if case .randomPick = $0 { true } else { false } } }
            #expect(picks.count <= 15, "\(chain.name): \(picks.count + 1) choices")
        }
        let levels = count <= 1 ? 1 : Int((log(Double(count)) / log(16)).rounded(.up))
        #expect(pickChains.count >= levels)
        let deepest = pickChains.compactMap { Int($0.name.text.split(separator: "/pick").last?.prefix { $0.isNumber } ?? "") }.max() ?? 0
        #expect(deepest == levels - 1, "\(count) endpoints: groups \(deepest) levels deep, expected \(levels - 1)")
    }
}
