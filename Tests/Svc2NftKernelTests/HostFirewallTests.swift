import Foundation
import Svc2NftTestSupport
import Testing

/// svc2nft beside a host firewall in another table (`inet hostfw`, policy drop on input
/// and forward, as Debian's nftables.conf and firewalld write them): with the documented
/// `ct status dnat accept` rules every Service flow of every fixture passes; without
/// them Service traffic is blocked, so the firewall in the test really filters. Flows
/// that expect no rule to touch them (output "") are not judged here: whether a host
/// firewall lets non-Service traffic through is its own business.
@Suite struct HostFirewallTests {
    static let firewall = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("netns/host-firewall.nft").path

    /// Loads `firewall` (a file), then `svc2nft apply` of the fixture, in the node namespace.
    static func loader(_ fixture: Fixture, firewall: String) -> [String] {
        let apply = ApplyKernelTests.apply(fixture).map { "'\($0)'" }.joined(separator: " ")
        return ["sh", "-c", "nft -f '\(firewall)' && exec \(apply)"]
    }

    /// The names of the fixture's flows that Service rules decide (not output "").
    static func serviceFlows(_ fixture: Fixture) throws -> Set<String> {
        let flows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture.path("flows.json"))))
        return Set((flows as? [[String: Any]] ?? []).filter { ($0["output"] as? String ?? "") != "" }.compactMap { $0["name"] as? String })
    }

    @Test(arguments: PacketFlowTests.fixtures)
    func serviceFlowsPassWithTheDocumentedRules(_ fixture: Fixture) throws {
        if ApplyKernelTests.skip("host firewall \(fixture.name)") { return }
        let judged = try Self.serviceFlows(fixture)
        let report = try TestBed.run(fixture, loader: Self.loader(fixture, firewall: Self.firewall))
        #expect(report.flows.contains { judged.contains($0.name) }, "\(fixture.name): no Service flow ran")
        for flow in report.flows where judged.contains(flow.name) {
            for problem in flow.problems {
                Issue.record(Comment(rawValue: "\(fixture.name) behind a host firewall: \(flow.name): \(problem)"))
            }
        }
    }

    @Test func withoutThemServiceTrafficIsBlocked() throws {
        if ApplyKernelTests.skip("host firewall without its accept rules") { return }
        let strict = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-hostfw-\(getpid()).nft")
        let text = try String(contentsOfFile: Self.firewall, encoding: .utf8)
        try text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("ct status dnat accept") }
            .joined(separator: "\n").write(to: strict, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: strict) }
        let fixture = Fixture.named("clusterip-basic")
        let judged = try Self.serviceFlows(fixture)
        let report = try TestBed.run(fixture, loader: Self.loader(fixture, firewall: strict.path))
        let failing = report.flows.filter { judged.contains($0.name) && !$0.problems.isEmpty }
        #expect(!failing.isEmpty, "a policy-drop firewall without the accept rules let every Service flow through")
    }
}
