import Foundation
import Svc2NftTestSupport
import Testing

/// Real packets through real kernel rules: every fixture with `flows.json`, loaded with
/// `nft -f` into a node namespace the test bed builds and deletes.
@Suite struct PacketFlowTests {
    static let fixtures = Fixture.all.filter { $0.exists("flows.json") }

    @Test(arguments: fixtures)
    func flowsWithNftLoader(_ fixture: Fixture) throws {
        if let reason = TestBed.unavailableReason {
            print("SKIP packet flows \(fixture.name): \(reason)")
            return
        }
        let report = try TestBed.run(fixture, loader: ["nft", "-f", fixture.path("expected.nft")])
        Self.record(report, fixture: fixture, loader: "nft -f")
    }

    @Test(arguments: fixtures)
    func flowsWithApplyLoader(_ fixture: Fixture) throws {
        if let reason = TestBed.unavailableReason {
            print("SKIP packet flows (apply) \(fixture.name): \(reason)")
            return
        }
        let report = try TestBed.run(fixture, loader: ApplyKernelTests.apply(fixture))
        Self.record(report, fixture: fixture, loader: "svc2nft apply")
    }

    static func record(_ report: TestBed.Report, fixture: Fixture, loader: String) {
        #expect(!report.flows.isEmpty, "\(fixture.name): no flow ran")
        for flow in report.flows {
            for problem in flow.problems {
                Issue.record(Comment(rawValue: "\(fixture.name) [\(loader)]: \(flow.name): \(problem)"))
            }
        }
        let failed = report.flows.filter { !$0.problems.isEmpty }.count
        let tries = report.flows.map(\.tries).reduce(0, +)
        var line = "flows \(fixture.name) [\(loader)]: \(report.flows.count - failed) passed, \(failed) failed, \(tries) connections"
        if !report.skipped.isEmpty {
            line += "; skipped \(report.skipped.count): " + report.skipped.map { "\($0.name) (\($0.reason))" }.joined(separator: ", ")
        }
        print(line)
    }
}

/// The test bed must be able to fail: rulesets broken on purpose make flows fail.
@Suite struct TestBedSelfCheck {
    /// (fixture, line fragment to delete, why a flow must notice)
    static let mutations: [(String, String, String)] = [
        ("clusterip-basic", "ip saddr != 10.244.0.0/16 jump mark-for-masquerade", "outside client no longer masqueraded"),
        ("no-endpoints", "goto reject-chain", "rejects become plain drops or passes"),
        ("loadbalancer", "ip saddr != { 198.51.100.0/25, 203.0.113.0/24 } drop", "source-range firewall gone"),
        ("policy-external-local", "goto local-policy/ready-local/tcp/http", "Local policy falls through"),
        ("service-cidr", "drop traffic to unallocated ClusterIPs", "unallocated ClusterIPs are forwarded off the node"),
    ]

    @Test(arguments: mutations.indices)
    func brokenRulesetIsCaught(_ index: Int) throws {
        if let reason = TestBed.unavailableReason {
            print("SKIP test bed self-check: \(reason)")
            return
        }
        let (name, fragment, why) = Self.mutations[index]
        let fixture = Fixture.named(name)
        let original = try #require(fixture.read("expected.nft"))
        let lines = original.split(separator: "\n", omittingEmptySubsequences: false)
        let broken = lines.filter { !$0.contains(fragment) }
        #expect(broken.count < lines.count, "mutation of \(name) matched nothing")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-broken-\(getpid())-\(index).nft").path
        try broken.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let report = try TestBed.run(fixture, loader: ["nft", "-f", path])
        let failing = report.flows.filter { !$0.problems.isEmpty }
        #expect(!failing.isEmpty, "\(name) without '\(fragment)' (\(why)) passed every flow")
        print("self-check \(name): deleting '\(fragment)' fails \(failing.count) flow(s): \(failing.map(\.name).joined(separator: "; "))")
    }
}
