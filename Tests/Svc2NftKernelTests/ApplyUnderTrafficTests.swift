import Foundation
import Svc2NftTestSupport
import Testing

/// `apply` under load: while two clients connect to a ClusterIP in a loop, `apply` runs
/// 50 times alternating two disjoint endpoint sets (fixtures churn-a and churn-b). No
/// connection may fail, and each must reach an endpoint of a set that was live while it
/// was opened.
@Suite struct ApplyUnderTrafficTests {
    @Test func fiftyAppliesUnderTrafficLoseNoConnection() throws {
        if let reason = TestBed.unavailableReason {
            print("SKIP apply under traffic: \(reason)")
            return
        }
        let a = Fixture.named("churn-a"), b = Fixture.named("churn-b")
        func loader(_ fixture: Fixture) throws -> String {
            String(decoding: try JSONEncoder().encode(ApplyKernelTests.apply(fixture)), as: UTF8.self)
        }
        let result = try Command.run(
            Command.which("python3")!,
            [
                TestBed.script, "churn", "--dest", "10.96.1.1", "--port", "80",
                "--set-a", "10.244.1.10:8080,10.244.1.11:8080", "--set-b", "10.244.2.20:8080,10.244.2.21:8080",
                "--loader-a", try loader(a), "--loader-b", try loader(b),
                "--client", "10.244.3.50", "--client", "10.244.3.51", "--rounds", "50",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        struct Report: Decodable {
            let connections: Int
            let applies: Int
            let failed: Int
            let problems: [String]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        #expect(report.applies == 50)
        #expect(report.connections > 1000, "too little traffic to mean anything: \(report.connections)")
        #expect(report.failed == 0)
        #expect(report.problems.isEmpty, "\(report.problems)")
        print("apply under traffic: \(report.applies) applies, \(report.connections) connections, \(report.failed) failed")
    }
}
