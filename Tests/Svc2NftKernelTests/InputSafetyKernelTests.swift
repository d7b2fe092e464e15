import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// What input can do to a node: nothing it should not. An empty input does not wipe our
/// tables unless asked (`--allow-empty`), `apply --follow` survives any document on
/// standard input, and `diff` tells "different" (1) from "cannot read the kernel" (3).
@Suite struct InputSafetyKernelTests {
    static let shop = Fixture.named("shop")

    @Test func applyRefusesEmptyInputWhenTablesHoldServices() throws {
        if ApplyKernelTests.skip("apply of empty input") { return }
        let namespace = try NetworkNamespace("empty")
        #expect(try namespace.run(ApplyKernelTests.apply(Self.shop)).status == 0)
        let before = try namespace.listOurTables()
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-empty-\(getpid()).yaml")
        try Data().write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }

        let refused = try namespace.run([Svc2NftBinary.path, "apply", empty.path])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("--allow-empty"), "\(refused.stderr)")
        #expect(try namespace.listOurTables() == before, "a refused apply changed the tables")

        let allowed = try namespace.run([Svc2NftBinary.path, "apply", "--allow-empty", empty.path])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(!(try namespace.listOurTables()).contains("svc-shop/"), "--allow-empty should remove the Services' chains")
        // Nothing of ours holds Services now: an empty input applies without the flag.
        #expect(try namespace.run([Svc2NftBinary.path, "apply", empty.path]).status == 0)
    }

    @Test func followSurvivesIntegersBeyondInt64() throws {
        if ApplyKernelTests.skip("apply --follow with a huge integer") { return }
        let namespace = try NetworkNamespace("bigint")
        let command =
            "printf '%s\\n' '{\"x\":9999999999999999999}' '{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"},\"spec\":{\"ports\":[{\"port\":99999999999999999999}]}}' | '\(Svc2NftBinary.path)' apply --follow "
            + Self.shop.inputs.map { "'\(Self.shop.path($0))'" }.joined(separator: " ")
        let result = try namespace.run(["sh", "-c", command])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("overflow"), "\(result.stderr)")
    }

    @Test func diffExitCodes() throws {
        if ApplyKernelTests.skip("diff exit codes") { return }
        let namespace = try NetworkNamespace("diffcodes")
        let diff = [Svc2NftBinary.path, "diff"] + Self.shop.arguments + Self.shop.inputs.map { Self.shop.path($0) }
        #expect(try namespace.run(diff).status == 1, "no tables yet: different")
        #expect(try namespace.run(ApplyKernelTests.apply(Self.shop)).status == 0)
        #expect(try namespace.run(diff).status == 0)
        // Without CAP_NET_ADMIN the kernel refuses the dump: 3, not "different".
        guard let setpriv = Command.which("setpriv") else {
            print("SKIP diff exit 3: setpriv is not installed")
            return
        }
        let unprivileged = try namespace.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"] + diff)
        #expect(unprivileged.status == 3, "\(unprivileged.stderr)")
    }
}
