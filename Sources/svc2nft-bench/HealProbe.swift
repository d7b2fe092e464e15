import Foundation
import Svc2NftTestSupport

/// The outage after `nft flush ruleset` under `svc2nft run`: the agent serves a
/// generated cluster; the ruleset is flushed from the agent's namespace, and the gap is
/// timed from just before `nft` starts (an upper bound: the rules go at its commit, some
/// milliseconds later) to the agent's `applied (full)` line after its `repairing` line,
/// which it prints once the kernel has acknowledged the restored rules. `--sync-period
/// 1h`, so only the change notification can start the repair.
enum HealProbe {
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
        let data = try Data(contentsOf: URL(fileURLWithPath: cluster))
        guard let list = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let items = list["items"] as? [[String: Any]]
        else { return nil }
        let namespace = try NetworkNamespace("bench-heal")
        _ = try namespace.run(["ip", "link", "set", "lo", "up"])
        let certificates = try TestCertificates()
        let double = APIServerDouble(bookmarkInterval: .seconds(60))
        for item in items { double.put(item) }
        double.put(KubeObjects.node("node-0", internalIP: "10.0.0.1"))
        let listener = try APIServerListener(double, certificates: certificates, namespace: namespace.name, port: 6443)
        defer { listener.stop() }
        let kubeconfig = try certificates.kubeconfig(server: listener.url, token: double.token)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Command.which("ip")!)
        process.arguments =
            ["netns", "exec", namespace.name, binary, "run", "--kubeconfig", kubeconfig, "--hostname-override", "node-0"]
            + ["--node-ip", "10.0.0.1", "--cluster-cidr", "10.128.0.0/9", "--min-sync-period", "1s", "--sync-period", "1h"]
            + ["--healthz-bind-address", "", "--metrics-bind-address", ""]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var lines = LineReader(handle: errors.fileHandleForReading)
        guard lines.next(containing: "applied (full)") != nil else { return nil }

        var gaps: [Gap] = []
        for _ in 0..<flushes {
            Thread.sleep(forTimeInterval: 1)
            let start = DispatchTime.now().uptimeNanoseconds
            func since() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
            // Not waited for: the agent's lines are read while nft runs and exits.
            let nft = Process()
            nft.executableURL = URL(fileURLWithPath: Command.which("ip")!)
            nft.arguments = ["netns", "exec", namespace.name, "nft", "flush", "ruleset"]
            try nft.run()
            guard lines.next(containing: "repairing") != nil else { return nil }
            let noticed = since()
            guard lines.next(containing: "applied (full)") != nil else { return nil }
            let restored = since()
            nft.waitUntilExit()
            guard nft.terminationStatus == 0 else { return nil }
            gaps.append(Gap(noticed: noticed, restored: restored))
        }
        return gaps
    }
}
