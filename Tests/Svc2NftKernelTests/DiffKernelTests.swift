import Foundation
import Svc2NftTestSupport
import Testing

/// `svc2nft diff` against the real kernel: equal after apply, and each kind of change
/// (other input, a rule or element added with nft, a foreign chain) reported with exit 1.
@Suite struct DiffKernelTests {
    static func diff(_ ns: NetworkNamespace, _ fixture: Fixture) throws -> ProcessResult {
        try ns.run([Svc2NftBinary.path, "diff"] + fixture.arguments + fixture.inputs.map { fixture.path($0) })
    }

    @Test(arguments: ApplyKernelTests.goldens)
    func equalAfterApply(_ fixture: Fixture) throws {
        if ApplyKernelTests.skip("diff \(fixture.name)") { return }
        let ns = try NetworkNamespace("diff")
        #expect(try ns.run(ApplyKernelTests.apply(fixture)).status == 0)
        let result = try Self.diff(ns, fixture)
        #expect(result.status == 0, "\(fixture.name): \(result.stdout)")
        #expect(result.stdout.isEmpty)
    }

    @Test func reportsChangesInServiceTermsAndHandEdits() throws {
        if ApplyKernelTests.skip("diff changes") { return }
        let ns = try NetworkNamespace("diff")
        let absent = try Self.diff(ns, Fixture.named("shop"))
        #expect(absent.status == 1)
        #expect(absent.stdout.contains("is absent"))

        let shop = Fixture.named("shop")
        #expect(try ns.run(ApplyKernelTests.apply(shop)).status == 0)
        let other = try Self.diff(ns, Fixture.named("clusterip-basic"))
        #expect(other.status == 1)
        #expect(other.stdout.contains("removed: Service port shop/api:grpc (tcp)"), "\(other.stdout)")

        let chain = try #require(
            shop.read("expected.nft")?.split(separator: "\n")
                .first { $0.contains("chain svc-shop/web/tcp/http_") }?.split(separator: " ")[1])
        #expect(try ns.run(["nft", "add", "rule", "ip", "svc2nft", String(chain), "drop"]).status == 0)
        #expect(try ns.run(["nft", "add", "element", "ip", "svc2nft", "service-ips", "{ 10.96.9.9 . tcp . 80 : drop }"]).status == 0)
        #expect(try ns.run(["nft", "add", "chain", "ip", "svc2nft", "sneaky"]).status == 0)
        let edited = try Self.diff(ns, shop)
        #expect(edited.status == 1)
        #expect(edited.stdout.contains("edited: chain \(chain) (Service shop/web:http (tcp)) has 4 rules, expected 3"), "\(edited.stdout)")
        #expect(edited.stdout.contains("service-ips: 0 elements to add, 1 to remove"), "\(edited.stdout)")
        #expect(edited.stdout.contains("foreign: chain sneaky"), "\(edited.stdout)")
        // A plain apply removes the foreign chain and element but leaves kept chains
        // alone; apply --repair rewrites the edited one. diff then agrees.
        #expect(try ns.run(ApplyKernelTests.apply(shop)).status == 0)
        let afterApply = try Self.diff(ns, shop)
        #expect(afterApply.stdout.contains("has 4 rules, expected 3") && !afterApply.stdout.contains("sneaky"), "\(afterApply.stdout)")
        #expect(try ns.run([Svc2NftBinary.path, "apply", "--repair"] + shop.arguments + shop.inputs.map { shop.path($0) }).status == 0)
        let repaired = try Self.diff(ns, shop)
        #expect(repaired.status == 0, "\(repaired.stdout)")
    }
}
