import Foundation
import Svc2NftTestSupport
import Testing

/// Each fixture folder is its own test: compile, then compare stdout, stderr and exit code
/// with the golden files.
@Suite struct FixtureTests {
    @Test(arguments: Fixture.all)
    func compileMatchesGolden(_ fixture: Fixture) throws {
        let result = try fixture.compile()
        // A fixture with neither golden file is recorded by what it does (UPDATE_GOLDEN=1).
        let expectsSuccess = fixture.exists("expected.nft") || (!fixture.exists("expected.stderr") && result.status == 0)
        if expectsSuccess {
            #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
            if let problem = Golden.mismatch(actual: result.stdout, goldenPath: fixture.path("expected.nft")) {
                Issue.record(Comment(rawValue: problem))
            }
        } else {
            #expect(result.status == 2, "bad input must exit 2, got \(result.status)")
            #expect(result.stdout.isEmpty, "bad input must print nothing on stdout")
        }
        if fixture.exists("expected.stderr") || result.status != 0 {
            if let problem = Golden.mismatch(actual: result.stderr, goldenPath: fixture.path("expected.stderr")) {
                Issue.record(Comment(rawValue: problem))
            }
        }
    }

    /// `nft -c` parses and checks every golden ruleset against the running kernel.
    @Test(arguments: Fixture.all.filter { $0.exists("expected.nft") })
    func goldenLoadsWithNft(_ fixture: Fixture) throws {
        guard let nft = Command.which("nft"), Command.isRoot else {
            print("SKIP nft -c \(fixture.name): \(Command.which("nft") == nil ? "nft is not installed" : "not root")")
            return
        }
        let result = try Command.run(nft, ["-c", "-f", fixture.path("expected.nft")])
        #expect(result.status == 0, "nft -c -f \(fixture.name)/expected.nft: \(result.stderr)")
    }
}
