import Foundation
import Svc2NftTestSupport
import Testing

/// `svc2nft graph` output for both formats, as golden files.
@Suite struct GraphTests {
    static let cases = ["shop", "policy-external-local", "loadbalancer", "service-cidr"]

    @Test(arguments: cases, ["dot", "mermaid"])
    func graphMatchesGolden(_ name: String, _ format: String) throws {
        let fixture = Fixture.named(name)
        let result = try Svc2NftBinary.run(["graph", "--format", format] + fixture.arguments + fixture.inputs, in: fixture.directory)
        #expect(result.status == 0, "\(result.stderr)")
        let golden = fixture.path(format == "dot" ? "expected.dot" : "expected.mmd")
        if let problem = Golden.mismatch(actual: result.stdout, goldenPath: golden) {
            Issue.record(Comment(rawValue: problem))
        }
    }

    /// Every endpoint of every flow that reaches endpoints appears in the drawing.
    @Test func drawingShowsTheEndpointsFlowsReach() throws {
        let fixture = Fixture.named("shop")
        let result = try Svc2NftBinary.run(["graph", "--format", "dot"] + fixture.arguments + fixture.inputs, in: fixture.directory)
        for endpoint in ["10.244.1.5:8080/tcp", "10.244.2.7:8080/tcp", "10.244.1.9:9090/tcp", "10.244.1.2:53/udp", "REJECT"] {
            #expect(result.stdout.contains(endpoint), "missing \(endpoint)")
        }
        #expect(!result.stdout.contains("10.244.2.8"), "a not-ready endpoint must not be drawn")
    }
}
