import Foundation
import Svc2NftTestSupport

/// The outage after `nft flush ruleset` under `svc2nft run`: the agent serves a
/// generated cluster; the ruleset is flushed from the agent's namespace, and the gap is
/// timed from just before `nft` starts to the agent's `applied (full)` line after its
/// `repairing` line, which it prints once the kernel has acknowledged the restored
/// rules. `--sync-period 1h`, so only the change notification can start the repair.
enum HealProbe {
    /// "svc2nft run, N Services x 10: nft flush ruleset to rules restored, median X ms (...)".
    static func line(binary: String, cluster: String, services: Int, flushes: Int) -> String {
        guard let gaps = try? run(binary: binary, cluster: cluster, flushes: flushes), !gaps.isEmpty else {
            return "svc2nft run self-healing: failed"
        }
        let sorted = gaps.sorted()
        return String(
            format: "svc2nft run, %d Services x 10: `nft flush ruleset` to rules restored, median %.1f ms (min %.1f, max %.1f; %d flushes)",
            services, sorted[sorted.count / 2] * 1000, sorted[0] * 1000, sorted[sorted.count - 1] * 1000, sorted.count)
    }

    static func run(binary: String, cluster: String, flushes: Int) throws -> [Double]? {
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

        var gaps: [Double] = []
        for _ in 0..<flushes {
            Thread.sleep(forTimeInterval: 1)
            let flushed = DispatchTime.now().uptimeNanoseconds
            guard try namespace.run(["nft", "flush", "ruleset"]).status == 0 else { return nil }
            guard lines.next(containing: "repairing") != nil, lines.next(containing: "applied (full)") != nil else { return nil }
            gaps.append(Double(DispatchTime.now().uptimeNanoseconds - flushed) / 1e9)
        }
        return gaps
    }
}
