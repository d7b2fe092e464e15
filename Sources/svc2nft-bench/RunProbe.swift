import Foundation
import Svc2NftTestSupport

/// Event to kernel under `svc2nft run`: the API server double holds a generated cluster;
/// `svc2nft run` lists it and installs it; then one EndpointSlice at a time changes
/// through the double, and each change is timed from the double's write to the agent's
/// `applied:` line, which it prints once the kernel has acknowledged the transaction.
/// `--min-sync-period 0`, so no batching delay is counted.
enum RunProbe {
    struct Result {
        /// From start to the first full apply (lists of every object, lowering, install).
        let initial: Double
        let latencies: [Double]
    }

    static func run(binary: String, cluster: String, count: Int) throws -> Result? {
        let data = try Data(contentsOf: URL(fileURLWithPath: cluster))
        guard let list = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let items = list["items"] as? [[String: Any]]
        else { return nil }
        let namespace = try NetworkNamespace("bench-run")
        _ = try namespace.run(["ip", "link", "set", "lo", "up"])
        let certificates = try TestCertificates()
        let double = APIServerDouble(bookmarkInterval: .seconds(60))
        var slices: [[String: Any]] = []
        for item in items {
            double.put(item)
            if item["kind"] as? String == "EndpointSlice", let endpoints = item["endpoints"] as? [[String: Any]], !endpoints.isEmpty {
                slices.append(item)
            }
        }
        double.put(KubeObjects.node("node-0", internalIP: "10.0.0.1"))
        let listener = try APIServerListener(double, certificates: certificates, namespace: namespace.name, port: 6443)
        defer { listener.stop() }
        let kubeconfig = try certificates.kubeconfig(server: listener.url, token: double.token)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Command.which("ip")!)
        process.arguments =
            ["netns", "exec", namespace.name, binary, "run", "--kubeconfig", kubeconfig, "--hostname-override", "node-0"]
            + ["--node-ip", "10.0.0.1", "--cluster-cidr", "10.128.0.0/9", "--min-sync-period", "0", "--sync-period", "1h"]
            + ["--healthz-bind-address", "", "--metrics-bind-address", ""]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let started = DispatchTime.now().uptimeNanoseconds
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var lines = LineReader(handle: errors.fileHandleForReading)
        guard lines.next(containing: "applied (full)") != nil else { return nil }
        let initial = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9

        var latencies: [Double] = []
        for index in 0..<count {
            // Each change moves one endpoint of a slice to another address and back.
            var slice = slices[(index * 7919) % slices.count]
            var endpoints = slice["endpoints"] as! [[String: Any]]
            let moved = index % 2 == 0
            endpoints[0]["addresses"] = [moved ? "10.127.\(index % 250).\(1 + index / 250 % 250)" : "10.127.255.254"]
            slice["endpoints"] = endpoints
            let written = DispatchTime.now().uptimeNanoseconds
            double.put(slice)
            guard lines.next(containing: "applied:") != nil else { return nil }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - written) / 1e9)
        }
        return Result(initial: initial, latencies: latencies)
    }

    /// "p50 X ms, p99 Y ms (N changes)".
    static func summary(_ values: [Double]) -> String {
        let sorted = values.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000 }
        return String(format: "p50 %.1f ms, p99 %.1f ms", at(0.5), at(0.99))
    }
}
