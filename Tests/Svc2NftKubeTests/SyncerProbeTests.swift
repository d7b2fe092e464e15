import Foundation
import Svc2NftAgent
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// The sync loop of `run` and `apply --follow` probes the kernel before its first apply:
/// a missing feature fails the sync with the module's name and touches nothing; once the
/// kernel has it, the next sync applies.
@Suite struct SyncerProbeTests {
    @Test func aMissingFeatureFailsTheFirstSyncUntilTheKernelHasIt() throws {
        if TestBed.unavailableReason != nil {
            print("SKIP syncer probe: \(TestBed.unavailableReason!)")
            return
        }
        let namespace = try NetworkNamespace("syncprobe")
        let applier = try namespace.inside { Applier(transport: try MNLTransport()) }
        var syncer = Syncer(node: NodeConfig(nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!]), applier: applier)
        let shop = Fixture.named("shop")
        var objects: [RawObject] = []
        for input in shop.inputs {
            objects += try ManifestReader.parse([UInt8](try Data(contentsOf: shop.directory.appendingPathComponent(input))), file: input)
        }
        for kind in ["Service", "EndpointSlice"] { _ = syncer.replace(kind: kind, with: objects) }

        let impossible = KernelFeature(
            name: "nat on forward", module: "nft_svc2nft_test", config: "CONFIG_SVC2NFT_TEST",
            chains: [Chain(name: ChainName("probe-impossible"), kind: .base(.nat, .forward, priority: 0))])
        syncer.probe = KernelProbe(features: [.ip: [impossible]])
        for _ in 0..<2 {
            #expect(throws: ApplyError.self) { try syncer.sync() }
            #expect(!syncer.probed)
            let ruleset = try namespace.run(["nft", "list", "ruleset"])
            #expect(ruleset.stdout.isEmpty, "a failed probe must apply nothing: \(ruleset.stdout)")
        }
        syncer.probe = KernelProbe()
        let report = try syncer.sync()
        #expect(report.full && syncer.probed)
        #expect(try namespace.listTable("ip").contains("svc-shop/web"))
    }
}
