import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// Service CIDRs from `--service-cidr` and from `ServiceCIDR` objects.
@Suite struct ServiceCIDRTests {
    /// fixtures/service-cidr-objects gives as objects what fixtures/service-cidr gives as options.
    @Test func objectsAndOptionsGiveTheSameRuleset() throws {
        let options = try #require(Fixture.named("service-cidr").read("expected.nft"))
        let objects = try #require(Fixture.named("service-cidr-objects").read("expected.nft"))
        #expect(options == objects)
    }

    @Test func badOptionIsExitTwoNamingIt() throws {
        let result = try Svc2NftBinary.run(["compile", "--service-cidr", "10.96.0.0/12,nonsense", "-"], stdin: "")
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("--service-cidr: \"nonsense\" is not a CIDR"), "\(result.stderr)")
    }

    @Test func followerStoreTracksServiceCIDRObjects() throws {
        var store = ClusterStore()
        let object = try ManifestReader.parse(
            Array(
                #"{"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/16"]}}"#
                    .utf8),
            file: "stdin")[0]
        #expect(try store.apply(ObjectEvent(change: .upsert, object: object)).isEmpty)
        #expect(store.serviceCIDRs == [CIDR("10.96.0.0/16")!])
        #expect(store.cluster.serviceCIDRs == [CIDR("10.96.0.0/16")!])
        _ = try store.apply(ObjectEvent(change: .delete, object: object))
        #expect(store.serviceCIDRs.isEmpty)
    }
}
