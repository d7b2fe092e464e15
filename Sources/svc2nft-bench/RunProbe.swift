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
        guard let agent = try BenchAgent(binary: binary, cluster: cluster, label: "bench-run", minSyncPeriod: "0") else { return nil }
        let slices = agent.items.filter {
            $0["kind"] as? String == "EndpointSlice" && !($0["endpoints"] as? [[String: Any]] ?? []).isEmpty
        }
        var latencies: [Double] = []
        for index in 0..<count {
            // Each change moves one endpoint of a slice to another address and back.
            var slice = slices[(index * 7919) % slices.count]
            var endpoints = slice["endpoints"] as! [[String: Any]]
            let moved = index % 2 == 0
            endpoints[0]["addresses"] = [moved ? "10.127.\(index % 250).\(1 + index / 250 % 250)" : "10.127.255.254"]
            slice["endpoints"] = endpoints
            let written = DispatchTime.now().uptimeNanoseconds
            agent.double.put(slice)
            guard agent.lines.next(containing: "applied:") != nil else { return nil }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - written) / 1e9)
        }
        return Result(initial: agent.initial, latencies: latencies)
    }

    /// "p50 X ms, p99 Y ms (N changes)".
    static func summary(_ values: [Double]) -> String {
        let sorted = values.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000 }
        return String(format: "p50 %.1f ms, p99 %.1f ms", at(0.5), at(0.99))
    }
}
