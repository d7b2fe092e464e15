import Foundation
import Svc2NftCore

/// `make bench`: for each size, N Services x 10 endpoints, measured side by side in one
/// run on this machine, printed as the README's Markdown table.
enum Bench {
    struct Options {
        var sizes = [1000, 10000]
        var growth = [1000, 10000, 50000]
        var nftTimeout = 600.0
        var directory = "bench-out"
    }

    static let nodeArgs = ["--node-name", "node-0", "--node-ip", "10.0.0.1", "--cluster-cidr", "10.128.0.0/9"]

    static func run(arguments: [String]) throws {
        var options = Options()
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            switch flag {
            case "--sizes": options.sizes = (rest.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--growth": options.growth = (rest.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--nft-timeout": options.nftTimeout = Double(rest.popFirst() ?? "") ?? options.nftTimeout
            case "--out": options.directory = rest.popFirst() ?? options.directory
            default: BenchMain.usage()
            }
        }
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("svc2nft").path
        let testbed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/netns/testbed.py").path
        let root = getuid() == 0

        var rows: [[String]] = []
        for n in options.sizes {
            log("size \(n): generating")
            let input = "\(options.directory)/cluster-\(n).json"
            let changed = "\(options.directory)/cluster-\(n)-changed.json"
            let probe = "\(options.directory)/probe.json"
            try Generator(services: n, endpoints: 10).generate().write(toFile: input, atomically: false, encoding: .utf8)
            try Generator(services: n, endpoints: 10, changed: n / 2).generate().write(toFile: changed, atomically: false, encoding: .utf8)
            try Probe.service.write(toFile: probe, atomically: false, encoding: .utf8)
            let megabytes = Double((try FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0) / 1e6

            log("size \(n): parse")
            let bytes = [UInt8](FileManager.default.contents(atPath: input)!)
            let parseStart = DispatchTime.now().uptimeNanoseconds
            let objects = try ManifestReader.parse(bytes, file: input)
            let parse = Double(DispatchTime.now().uptimeNanoseconds - parseStart) / 1e9
            _ = objects.count

            log("size \(n): compile")
            let ruleset = "\(options.directory)/cluster-\(n).nft"
            let compile = Spawn.run([binary, "compile"] + nodeArgs + [input], stdout: ruleset)
            var row = [
                "\(n) x 10", String(format: "%.0f MB", megabytes), String(format: "%.2f s", parse),
                String(format: "%.2f s / %d MB", compile.seconds, compile.peakRSSKB / 1024),
            ]
            guard root else {
                rows.append(row + ["(needs root)", "", "", "", "", "", ""])
                continue
            }
            log("size \(n): nft -f (timeout \(Int(options.nftTimeout)) s)")
            let nft = inNamespace { ns in Spawn.run(["ip", "netns", "exec", ns, "nft", "-f", ruleset], timeout: options.nftTimeout) }
            log("size \(n): apply, re-apply, changed input, one changed under --follow")
            var full = Measured(status: -1, seconds: 0, peakRSSKB: 0), again = full, one = full
            inNamespace { ns in
                full = Spawn.run(["ip", "netns", "exec", ns, binary, "apply"] + nodeArgs + [input])
                again = Spawn.run(["ip", "netns", "exec", ns, binary, "apply"] + nodeArgs + [input])
                one = Spawn.run(["ip", "netns", "exec", ns, binary, "apply"] + nodeArgs + [changed])
            }
            let change = Generator(services: n, endpoints: 10, changed: n / 2, only: n / 2).generate()
            let followed = inNamespace { ns in FollowProbe.run(namespace: ns, binary: binary, arguments: nodeArgs + [input], change: change) }
            log("size \(n): data plane")
            let loaded = latency(testbed: testbed, loader: ["ip", "netns", "exec", "{node}", binary, "apply"] + nodeArgs + [input, probe])
            let alone = latency(testbed: testbed, loader: [binary, "apply"] + nodeArgs + [probe])
            let nftText =
                nft.status == 124
                ? String(format: "> %.0f s (timeout)", nft.seconds) : nft.ok ? String(format: "%.2f s", nft.seconds) : "failed"
            let ratio =
                nft.ok && full.ok
                ? String(format: " (%.2fx nft)", full.seconds / nft.seconds)
                : nft.status == 124 && full.ok ? String(format: " (< %.3fx nft)", full.seconds / nft.seconds) : ""
            row += [
                nftText,
                full.ok ? String(format: "%.2f s%@", full.seconds, ratio) : "failed",
                again.ok ? String(format: "%.2f s", again.seconds) : "failed",
                one.ok ? String(format: "%.2f s", one.seconds) : "failed",
                followed != nil && full.ok
                    ? String(format: "%.1f ms (%.2f%% of full)", followed!.change * 1000, 100 * followed!.change / full.seconds) : "failed",
                loaded != nil && alone != nil
                    ? String(format: "%.0f us vs %.0f us (%.2fx)", loaded! * 1e6, alone! * 1e6, loaded! / alone!) : "failed",
            ]
            rows.append(row)
        }

        var growth: [String] = []
        for n in options.growth {
            log("growth \(n): generating and compiling")
            let input = "\(options.directory)/growth-\(n).json"
            try Generator(services: n, endpoints: 10).generate().write(toFile: input, atomically: false, encoding: .utf8)
            let compile = Spawn.run([binary, "compile"] + nodeArgs + [input])
            growth.append(
                String(
                    format: "%d: %.2f s (%.1f us/Service, %d MB)", n, compile.seconds, compile.seconds / Double(n) * 1e6,
                    compile.peakRSSKB / 1024))
            try? FileManager.default.removeItem(atPath: input)
        }

        print(
            "| Services x endpoints | JSON | parse | compile (wall / peak RSS) | nft -f | full apply | re-apply | apply of input with one Service changed | one Service changed, apply --follow | first connection, median (N vs 1 Service) |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in rows { print("| " + row.joined(separator: " | ") + " |") }
        print("")
        print("Compile growth: " + growth.joined(separator: "; "))
    }

    static func log(_ text: String) { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }

    @discardableResult
    static func inNamespace<T>(_ body: (String) -> T) -> T {
        let ns = "s2n-bench-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        _ = Spawn.run(["ip", "netns", "add", ns])
        defer { _ = Spawn.run(["ip", "netns", "del", ns]) }
        return body(ns)
    }

    /// Median seconds for one fresh connection to the probe Service.
    static func latency(testbed: String, loader: [String]) -> Double? {
        let loaderJSON = String(
            decoding: try! JSONEncoder().encode(loader.filter { $0 != "ip" && $0 != "netns" && $0 != "exec" && $0 != "{node}" }),
            as: UTF8.self)
        let out = "/tmp/svc2nft-bench-latency.json"
        let result = Spawn.run(
            [
                "python3", testbed, "latency", "--loader", loaderJSON, "--client", "10.250.0.2",
                "--endpoint", Probe.endpoint, "--port-target", "8080", "--dest", Probe.clusterIP, "--port", "80", "--count", "300",
            ], stdout: out)
        guard result.ok, let data = FileManager.default.contents(atPath: out),
            let times = try? JSONDecoder().decode([Double].self, from: data), !times.isEmpty
        else { return nil }
        return times.sorted()[times.count / 2]
    }
}

/// The one Service the data-plane check connects to, with one endpoint the test bed runs.
enum Probe {
    static let clusterIP = "10.255.255.1"
    static let endpoint = "10.250.0.10"
    static let service = """
        {"apiVersion": "v1", "kind": "List", "items": [
         {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "bench", "name": "probe"},
          "spec": {"clusterIP": "\(clusterIP)", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
         {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"namespace": "bench", "name": "probe-1", "labels": {"kubernetes.io/service-name": "probe"}},
          "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}], "endpoints": [{"addresses": ["\(endpoint)"]}]}
        ]}
        """
}
