import Foundation
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// The start-up probe asks for everything the ruleset uses: every kind of expression and
/// set in every fixture's graph is in the probe, under the feature `covering` names.
@Suite struct KernelFeatureTests {
    /// An expression's case, without its values: `fibLocal`, `randomPick`, ...
    static func kind(_ expr: Expr) -> String {
        String(String(describing: expr).prefix { $0 != "(" })
    }

    /// A set's kind as the kernel sees it: map or set, with timeouts or not, key length.
    static func kind(_ set: NamedSet) -> String {
        "\(set.isVerdictMap ? "map" : "set") timeout:\(set.timeoutSeconds != nil) keys:\(set.keyType.count)"
    }

    static let node = NodeConfig(
        nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!, IPAddress("fd00::1")!],
        clusterCIDRs: [CIDR("10.244.0.0/16")!, CIDR("fd00:244::/64")!], serviceCIDRs: [CIDR("10.96.0.0/16")!, CIDR("fd00:96::/112")!])

    @Test(arguments: Fixture.all)
    func probeCoversEveryExpressionAndSet(_ fixture: Fixture) throws {
        var objects: [RawObject] = []
        for input in fixture.inputs {
            guard let parsed = try? ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
            else { return }  // the bad-input fixtures
            objects += parsed
        }
        guard let (cluster, _) = try? ClusterLoader.load(objects, keepGoing: true) else { return }
        let graph = Lowering.lower(cluster, node: Self.node)
        for table in graph.tables {
            let features = KernelFeature.needed(for: table.family)
            for chain in table.chains {
                for rule in chain.rules {
                    for expr in rule.exprs {
                        let name = KernelFeature.covering(expr)
                        let feature = features.first { $0.name == name }
                        let probed = feature?.chains.flatMap(\.rules).flatMap(\.exprs).map(Self.kind) ?? []
                        #expect(probed.contains(Self.kind(expr)), "\(fixture): \(expr) in \(chain.name) is not probed by \(name)")
                    }
                }
                if case .base(let type, let hook, _) = chain.kind {
                    let probed = features.flatMap(\.chains).contains {
                        if case .base(type, hook, _) = $0.kind { return true }
                        return false
                    }
                    #expect(probed, "\(fixture): base chain \(type) \(hook) is not probed")
                }
            }
            let probedSets = Set(features.flatMap(\.sets).map(Self.kind))
            for set in table.sets {
                #expect(probedSets.contains(Self.kind(set)), "\(fixture): set \(set.name) (\(Self.kind(set))) is not probed")
            }
        }
    }
}
