import Foundation
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// The start-up probe against the real kernel: it passes here and leaves nothing behind;
/// a feature the kernel refuses is named with its module, before anything is applied,
/// and the tables already there stay exactly as they were.
@Suite struct KernelProbeTests {
    /// A feature this kernel cannot have: a nat chain on the forward hook (nat chains
    /// exist for prerouting, input, output and postrouting only), standing in for a
    /// missing module.
    static let impossible = KernelFeature(
        name: "nat on forward", module: "nft_svc2nft_test", config: "CONFIG_SVC2NFT_TEST",
        chains: [Chain(name: ChainName("probe-impossible"), kind: .base(.nat, .forward, priority: 0))])

    @Test func probePassesAndCreatesNothing() throws {
        if ApplyKernelTests.skip("kernel probe") { return }
        let namespace = try NetworkNamespace("probe")
        let applier = try namespace.inside { Applier(transport: try MNLTransport()) }
        try applier.probe()
        let ruleset = try namespace.run(["nft", "list", "ruleset"])
        #expect(ruleset.status == 0 && ruleset.stdout.isEmpty, "the probe left: \(ruleset.stdout)")
    }

    @Test func missingFeatureIsNamedAndNothingChanges() throws {
        if ApplyKernelTests.skip("kernel probe with a missing feature") { return }
        let namespace = try NetworkNamespace("probemiss")
        let shop = Fixture.named("shop")
        #expect(try namespace.run(ApplyKernelTests.apply(shop)).status == 0)
        let before = try namespace.run(["nft", "list", "ruleset"]).stdout

        let applier = try namespace.inside { Applier(transport: try MNLTransport()) }
        let probe = KernelProbe(features: [.ip: KernelFeature.needed(for: .ip) + [Self.impossible], .ip6: KernelFeature.needed(for: .ip6)])
        #expect {
            try applier.probe(probe)
        } throws: { error in
            guard case .missingKernelFeatures(let missing) = error as? ApplyError else { return false }
            let text = "\(error)"
            return missing.map(\.name) == ["nat on forward"] && missing[0].family == .ip
                && text.contains("modprobe nft_svc2nft_test") && text.contains("CONFIG_SVC2NFT_TEST")
        }
        #expect(try namespace.run(["nft", "list", "ruleset"]).stdout == before, "a failed probe changed the ruleset")
    }
}
