import Foundation
import Svc2NftTestSupport

/// `svc2nft run` serving a generated cluster, for the probes that time it (RunProbe,
/// HealProbe): a namespace of its own, the API server double holding the cluster's
/// objects and a Node, and the agent started against it. Ready once the agent printed
/// its first `applied (full)` line; everything goes away with the value.
final class BenchAgent {
    let namespace: NetworkNamespace
    let double: APIServerDouble
    /// The cluster's objects as the double holds them.
    let items: [[String: Any]]
    /// The agent's stderr, line by line.
    var lines: LineReader
    /// From the agent's start to its first full apply, in seconds.
    let initial: Double
    private let certificates: TestCertificates
    private let listener: APIServerListener
    private let process: Process

    /// nil when the file is not a List or the agent never applied.
    init?(binary: String, cluster: String, label: String, minSyncPeriod: String, extra: [String] = []) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: cluster))
        guard let list = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let items = list["items"] as? [[String: Any]]
        else { return nil }
        self.items = items
        namespace = try NetworkNamespace(label)
        _ = try namespace.run(["ip", "link", "set", "lo", "up"])
        certificates = try TestCertificates()
        double = APIServerDouble(bookmarkInterval: .seconds(60))
        for item in items { double.put(item) }
        double.put(KubeObjects.node("node-0", internalIP: "10.0.0.1"))
        listener = try APIServerListener(double, certificates: certificates, namespace: namespace.name, port: 6443)
        let kubeconfig = try certificates.kubeconfig(server: listener.url, token: double.token)

        process = Process()
        process.executableURL = URL(fileURLWithPath: Command.which("ip")!)
        process.arguments =
            ["netns", "exec", namespace.name, binary, "run", "--kubeconfig", kubeconfig, "--hostname-override", "node-0"]
            + ["--node-ip", "10.0.0.1", "--cluster-cidr", "10.128.0.0/9", "--min-sync-period", minSyncPeriod, "--sync-period", "1h"]
            + ["--healthz-bind-address", "", "--metrics-bind-address", ""] + extra
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let started = DispatchTime.now().uptimeNanoseconds
        try process.run()
        lines = LineReader(handle: errors.fileHandleForReading)
        let applied = lines.next(containing: "applied (full)") != nil
        initial = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        guard applied else { return nil }  // deinit stops the agent
    }

    private func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        listener.stop()
    }

    deinit { stop() }
}
