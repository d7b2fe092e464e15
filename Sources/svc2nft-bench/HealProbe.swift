import Foundation
import Svc2NftTestSupport

/// The outage after `nft flush ruleset` under `svc2nft run`: the agent serves a
/// generated cluster; the ruleset is flushed from the agent's namespace, and the gap is
/// timed from just before `nft` starts (an upper bound: the rules go at its commit, some
/// milliseconds later) to the agent's `applied (full)` line after its `repairing` line,
/// which it prints once the kernel has acknowledged the restored rules. `--sync-period
/// 1h`, so only the change notification can start the repair. The agent runs with
/// `--no-own-tables`: owned tables (the default where the kernel has
/// `NFT_TABLE_F_PERSIST`) are skipped by `nft flush ruleset`, so there is no gap to time;
/// `ownedLine` checks that.
enum HealProbe {
    /// "svc2nft run, N Services x 10, owned tables: `nft flush ruleset` left every rule in place (F flushes)".
    static func ownedLine(binary: String, cluster: String, services: Int, flushes: Int) -> String {
        do {
            guard let agent = try BenchAgent(binary: binary, cluster: cluster, label: "bench-owned", minSyncPeriod: "1s") else {
                return "svc2nft run, owned tables: failed"
            }
            let before = try agent.namespace.run(["nft", "list", "chains"]).stdout
            for _ in 0..<flushes {
                guard try agent.namespace.run(["nft", "flush", "ruleset"]).status == 0 else { return "owned tables: flush failed" }
                guard try agent.namespace.run(["nft", "list", "chains"]).stdout == before else {
                    return "svc2nft run, \(services) Services x 10, owned tables: `nft flush ruleset` removed rules (kernel without NFT_TABLE_F_PERSIST?)"
                }
            }
            return "svc2nft run, \(services) Services x 10, owned tables: `nft flush ruleset` left every chain in place (\(flushes) flushes, no outage)"
        } catch {
            return "svc2nft run, owned tables: \(error)"
        }
    }

    /// "svc2nft run, N Services x 10: nft flush ruleset to rules restored, median X ms (...)".
    static func line(binary: String, cluster: String, services: Int, flushes: Int) -> String {
        guard let gaps = try? run(binary: binary, cluster: cluster, flushes: flushes), !gaps.isEmpty else {
            return "svc2nft run self-healing: failed"
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] * 1000 }
        let restored = gaps.map(\.restored).sorted()
        return String(
            format:
                "svc2nft run, %d Services x 10: `nft flush ruleset` to rules restored, median %.1f ms (min %.1f, max %.1f; %d flushes; repair started after %.1f ms)",
            services, median(restored), restored[0] * 1000, restored[restored.count - 1] * 1000, restored.count,
            median(gaps.map(\.noticed)))
    }

    /// Per flush, in seconds from just before `nft` starts: the agent's `repairing` line,
    /// the rules restored.
    struct Gap {
        let noticed, restored: Double
    }

    static func run(binary: String, cluster: String, flushes: Int) throws -> [Gap]? {
        guard
            let agent = try BenchAgent(binary: binary, cluster: cluster, label: "bench-heal", minSyncPeriod: "1s", extra: ["--no-own-tables"])
        else { return nil }
        var gaps: [Gap] = []
        for _ in 0..<flushes {
            Thread.sleep(forTimeInterval: 1)
            let start = DispatchTime.now().uptimeNanoseconds
            func since() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
            // Not waited for: the agent's lines are read while nft runs and exits.
            let nft = Process()
            nft.executableURL = URL(fileURLWithPath: Command.which("ip")!)
            nft.arguments = ["netns", "exec", agent.namespace.name, "nft", "flush", "ruleset"]
            try nft.run()
            guard agent.lines.next(containing: "repairing") != nil else { return nil }
            let noticed = since()
            guard agent.lines.next(containing: "applied (full)") != nil else { return nil }
            let restored = since()
            nft.waitUntilExit()
            guard nft.terminationStatus == 0 else { return nil }
            gaps.append(Gap(noticed: noticed, restored: restored))
        }
        return gaps
    }
}
