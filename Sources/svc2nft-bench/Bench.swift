import Foundation
import Svc2NftCore

/// `make bench`: for each size, N Services x 10 endpoints, measured side by side in one
/// run on this machine, printed as the README's Markdown table. Every figure is the
/// median of `--repeats` runs (3); where two tools are compared they take turns, and the
/// ratio is the median of the turns' ratios.
enum Bench {
    struct Options {
        var sizes = [1000, 10000]
        var growth = [1000, 10000, 50000]
        var nftTimeout = 600.0
        var directory = "bench-out"
        /// Each figure is the median of this many runs (the shared VMs this runs on vary
        /// by 20% from one run to the next).
        var repeats = 3
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
            case "--repeats": options.repeats = max(1, Int(rest.popFirst() ?? "") ?? options.repeats)
            default: BenchMain.usage()
            }
        }
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        let binary = svc2nft
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

            let runs = options.repeats
            settle()  // the generated files are still being written back
            log("size \(n): parse (\(runs) runs)")
            let parse = median(
                (0..<runs).map { _ in
                    let start = DispatchTime.now().uptimeNanoseconds
                    let objects = try! ManifestReader.parse(ManifestBytes(reading: input), file: input)
                    // List items are parsed where they are decoded: parse them all here too.
                    _ = Parallel.chunks(objects.count) { _, range in range.reduce(0) { $0 + (objects[$1].value == .null ? 0 : 1) } }
                    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                })

            settle()
            // compile and Python's json.load (C) of the same file take turns; the ratio
            // is the median of the turns' ratios (issue 18: at most 0.5x).
            log("size \(n): compile and python3 json.load, in turns")
            let ruleset = "\(options.directory)/cluster-\(n).nft"
            var compiles: [Measured] = [], loads: [Measured] = []
            for _ in 0..<runs {
                compiles.append(Spawn.run([binary, "compile"] + nodeArgs + [input], stdout: ruleset))
                loads.append(Spawn.run(["python3", "-c", "import json, sys; json.load(open(sys.argv[1]))", input]))
            }
            let compile = median(compiles)
            let jsonLoad = median(loads).map { load in
                String(format: "%.2f s (compile %.2fx)", load.seconds, median(zip(compiles, loads).map { $0.seconds / $1.seconds }))
            }
            var row = [
                "\(n) x 10", String(format: "%.0f MB", megabytes), String(format: "%.2f s", parse),
                compile.map { String(format: "%.2f s / %d MB", $0.seconds, $0.peakRSSKB / 1024) } ?? "failed",
                jsonLoad ?? "failed",
            ]
            guard root else {
                rows.append(row + ["(needs root)", "", "", "", "", "", "", ""])
                continue
            }
            // nft -f and apply take turns, so a change of the machine's speed during the
            // run shows in both; the ratio is the median of each turn's ratio.
            log("size \(n): nft -f (timeout \(Int(options.nftTimeout)) s), apply, re-apply, changed input, in turns")
            var nftRuns: [Measured] = [], fulls: [Measured] = [], agains: [Measured] = [], ones: [Measured] = []
            for _ in 0..<runs {
                nftRuns.append(
                    inNamespace { ns in Spawn.run(["ip", "netns", "exec", ns, "nft", "-f", ruleset], timeout: options.nftTimeout) })
                inNamespace { ns in
                    fulls.append(Spawn.run(["ip", "netns", "exec", ns, binary, "apply"] + nodeArgs + [input]))
                    agains.append(Spawn.run(["ip", "netns", "exec", ns, binary, "apply"] + nodeArgs + [input]))
                    ones.append(Spawn.run(["ip", "netns", "exec", ns, binary, "apply"] + nodeArgs + [changed]))
                }
                log(
                    String(
                        format: "size \(n): turn %d: nft -f %.2f s, apply %.2f s (%.2fx)", fulls.count, nftRuns.last!.seconds,
                        fulls.last!.seconds, fulls.last!.seconds / nftRuns.last!.seconds))
            }
            let nft = median(nftRuns)
            let turnRatios = zip(fulls, nftRuns).map { $0.seconds / $1.seconds }
            log("size \(n): one changed under --follow")
            let (full, again, one) = (median(fulls), median(agains), median(ones))
            let change = Generator(services: n, endpoints: 10, changed: n / 2, only: n / 2).generate()
            let back = Generator(services: n, endpoints: 10, only: n / 2).generate()
            let followed = inNamespace { ns in
                FollowProbe.run(namespace: ns, binary: binary, arguments: nodeArgs + [input], changes: [change, back], count: 2 * runs + 1)
            }
            log("size \(n): kube-proxy-style partial sync: nft -f of a one-Service delta on the loaded table")
            let anchor = try partialSync(
                ruleset: ruleset, changed: changed, directory: options.directory, size: n, count: 2 * runs + 1,
                timeout: options.nftTimeout)
            log("size \(n): data plane")
            let firstConnection = latency(
                testbed: testbed,
                loaders: [[binary, "apply"] + nodeArgs + [input, probe], [binary, "apply"] + nodeArgs + [probe]], rounds: runs)
            let nftText =
                nftRuns.contains { $0.status == 124 }
                ? String(format: "> %.0f s (timeout)", options.nftTimeout) : nft.map { String(format: "%.2f s", $0.seconds) } ?? "failed"
            let ratio = nft != nil && full != nil ? String(format: " (%.2fx nft)", median(turnRatios)) : ""
            let changeSeconds = followed.map { median($0.changes) }
            let anchorSeconds = anchor.map { median($0) }
            row += [
                nftText,
                full.map { String(format: "%.2f s%@", $0.seconds, ratio) } ?? "failed",
                again.map { String(format: "%.2f s", $0.seconds) } ?? "failed",
                one.map { String(format: "%.2f s", $0.seconds) } ?? "failed",
                anchor.map { times in
                    String(format: "%.1f ms (%.1f-%.1f)", median(times) * 1000, times.min()! * 1000, times.max()! * 1000)
                } ?? "failed",
                changeSeconds.flatMap { change in
                    full.map {
                        String(
                            format: "%.1f ms (%.1f-%.1f; %.2f%% of full%@)", change * 1000, followed!.changes.min()! * 1000,
                            followed!.changes.max()! * 1000, 100 * change / $0.seconds,
                            anchorSeconds.map { String(format: ", %.2fx partial sync", change / $0) } ?? "")
                    }
                } ?? "failed",
                firstConnection.map { loaded, alone in
                    String(format: "%.0f us vs %.0f us (%.2fx)", loaded * 1e6, alone * 1e6, loaded / alone)
                } ?? "failed",
            ]
            rows.append(row)
        }

        // Growth: each size compiled `repeats` times, the sizes taking turns; cost per
        // Service (wall and CPU) and peak memory of the largest against 10,000 (issue 18:
        // at most 1.1x per Service, 5x memory).
        var growthRuns: [Int: [Measured]] = [:]
        for n in options.growth {
            log("growth \(n): generating")
            try Generator(services: n, endpoints: 10).generate().write(
                toFile: "\(options.directory)/growth-\(n).json", atomically: false, encoding: .utf8)
        }
        for turn in 0..<options.repeats {
            for n in options.growth {
                settle()
                log("growth \(n): compile, turn \(turn + 1)")
                growthRuns[n, default: []].append(Spawn.run([binary, "compile"] + nodeArgs + ["\(options.directory)/growth-\(n).json"]))
            }
        }
        for n in options.growth { try? FileManager.default.removeItem(atPath: "\(options.directory)/growth-\(n).json") }
        var growth: [String] = []
        for n in options.growth {
            guard let compile = median(growthRuns[n] ?? []) else {
                growth.append("\(n): failed")
                continue
            }
            let cpu = median(growthRuns[n]!.map(\.cpuSeconds))
            growth.append(
                String(
                    format: "%d: %.2f s (%.1f us/Service; CPU %.1f us/Service; %d MB)", n, compile.seconds,
                    compile.seconds / Double(n) * 1e6, cpu / Double(n) * 1e6, compile.peakRSSKB / 1024))
        }
        let reference = options.growth.contains(10000) ? 10000 : options.growth.min()
        if let reference, let largest = options.growth.max(), largest != reference,
            let small = growthRuns[reference], let large = growthRuns[largest], small.allSatisfy(\.ok), large.allSatisfy(\.ok)
        {
            let scale = Double(reference) / Double(largest)
            let wall = zip(large, small).map { $0.seconds / $1.seconds * scale }
            let cpu = zip(large, small).map { $0.cpuSeconds / $1.cpuSeconds * scale }
            let memory = Double(median(large)!.peakRSSKB) / Double(median(small)!.peakRSSKB)
            growth.append(
                String(
                    format: "per Service at %d vs %d: wall %.2fx (turns %.2f-%.2f), CPU %.2fx (turns %.2f-%.2f); peak RSS %.1fx",
                    largest, reference, median(wall), wall.min()!, wall.max()!, median(cpu), cpu.min()!, cpu.max()!, memory))
        }

        print(
            "| Services x endpoints | JSON | parse | compile (wall / peak RSS) | Python json.load (compile / json.load) | nft -f | full apply | re-apply | apply of input with one Service changed | kube-proxy-style partial sync: nft -f of a one-Service delta (min-max) | one Service changed, apply --follow (min-max) | first connection, median (N vs 1 Service) |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in rows { print("| " + row.joined(separator: " | ") + " |") }
        print("")
        print("Compile growth (median of \(options.repeats), sizes in turns): " + growth.joined(separator: "; "))
        log("conntrack cleanup")
        settle()
        print("")
        print(ConntrackProbe.run(services: 10000, entries: 100_000))
        guard root, let largest = options.sizes.max() else { return }
        log("event to kernel under run, \(largest) Services")
        settle()
        let cluster = "\(options.directory)/cluster-\(largest).json"
        print("")
        if let result = try RunProbe.run(binary: binary, cluster: cluster, count: 100) {
            print(
                String(format: "svc2nft run, %d Services x 10: first full apply %.2f s after start; event to kernel ", largest, result.initial)
                    + RunProbe.summary(result.latencies) + " (100 EndpointSlice changes through the API server double)")
        } else {
            print("svc2nft run: failed")
        }
        guard let smallest = options.sizes.min() else { return }
        log("outage after nft flush ruleset under run, \(smallest) Services")
        settle()
        print("")
        print(HealProbe.line(binary: binary, cluster: "\(options.directory)/cluster-\(smallest).json", services: smallest, flushes: 5))
        print(HealProbe.ownedLine(binary: binary, cluster: "\(options.directory)/cluster-\(largest).json", services: largest, flushes: 3))
        log("first connections by number of endpoints")
        settle()
        print("")
        let sizes = [10, 1000, 5000]
        if let medians = try? EndpointChoiceProbe.run(binary: binary, sizes: sizes, rounds: 3, connections: 400) {
            print(EndpointChoiceProbe.line(medians, sizes: sizes, rounds: 3, connections: 400))
        } else {
            print("endpoint choice: failed")
        }
    }

    /// Times kube-proxy's partial sync for one changed Service (`PartialSync`): `nft -f`
    /// of the delta from `ruleset` to the compiled `changed` input and back, `count`
    /// times in turn, on a namespace loaded with `ruleset`. nil when a step failed.
    static func partialSync(ruleset: String, changed: String, directory: String, size: Int, count: Int, timeout: Double) throws
        -> [Double]?
    {
        let changedRuleset = "\(directory)/cluster-\(size)-changed.nft"
        guard Spawn.run([svc2nft, "compile"] + nodeArgs + [changed], stdout: changedRuleset).ok else { return nil }
        let before = PartialSync.parse(try String(contentsOfFile: ruleset, encoding: .utf8))
        let after = PartialSync.parse(try String(contentsOfFile: changedRuleset, encoding: .utf8))
        var deltas: [String] = []
        for (name, from, to) in [("forward", before, after), ("back", after, before)] {
            let delta = PartialSync.delta(from: from, to: to)
            let path = "\(directory)/partial-sync-\(size)-\(name).nft"
            try delta.script.write(toFile: path, atomically: false, encoding: .utf8)
            log("partial sync \(name): \(delta.added) chains added, \(delta.deleted) deleted (\(path))")
            deltas.append(path)
        }
        return inNamespace { ns in PartialSync.run(namespace: ns, ruleset: ruleset, deltas: deltas, count: count, timeout: timeout) }
    }

    /// The `svc2nft` executable built beside this one.
    static var svc2nft: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("svc2nft").path
    }

    static func log(_ text: String) { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }

    /// The run with the median time; nil when any run failed.
    static func median(_ runs: [Measured]) -> Measured? {
        guard !runs.isEmpty, runs.allSatisfy(\.ok) else { return nil }
        return runs.sorted { $0.seconds < $1.seconds }[runs.count / 2]
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    @discardableResult
    static func inNamespace<T>(_ body: (String) -> T) -> T {
        let ns = "s2n-bench-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        _ = Spawn.run(["ip", "netns", "add", ns])
        defer {
            _ = Spawn.run(["ip", "netns", "del", ns])
            settle()
        }
        return body(ns)
    }

    /// Waits (at most 5 s) until the machine is idle: the kernel frees a deleted
    /// namespace's 100,000 chains, and writes generated files back, in the background, on
    /// whichever core is free, and the next measurement should not share the machine.
    static func settle() {
        func ticks() -> (total: Int, idle: Int) {
            guard let line = try? String(contentsOfFile: "/proc/stat", encoding: .utf8).split(separator: "\n").first else { return (0, 0) }
            let values = line.split(separator: " ").dropFirst().compactMap { Int($0) }
            guard values.count > 4 else { return (0, 0) }
            return (values.reduce(0, +), values[3] + values[4])
        }
        var previous = ticks()
        for _ in 0..<25 {
            usleep(200_000)
            let now = ticks()
            let total = now.total - previous.total, idle = now.idle - previous.idle
            previous = now
            if total > 0, Double(total - idle) / Double(total) < 0.05 { return }
        }
    }

    /// Median seconds for one fresh connection to the probe Service with all Services
    /// loaded and with the probe alone, the two loads taking turns `rounds` times in one
    /// test bed.
    static func latency(testbed: String, loaders: [[String]], rounds: Int) -> (loaded: Double, alone: Double)? {
        let out = "/tmp/svc2nft-bench-latency.json"
        var argv = ["python3", testbed, "latency", "--rounds", "\(rounds)"]
        for loader in loaders { argv += ["--loader", String(decoding: try! JSONEncoder().encode(loader), as: UTF8.self)] }
        argv += [
            "--client", "10.250.0.2", "--endpoint", Probe.endpoint, "--port-target", "8080", "--dest", Probe.clusterIP, "--port", "80",
            "--count", "300",
        ]
        let result = Spawn.run(argv, stdout: out)
        guard result.ok, let data = FileManager.default.contents(atPath: out),
            let times = try? JSONDecoder().decode([[Double]].self, from: data), times.count == 2, times.allSatisfy({ !$0.isEmpty })
        else { return nil }
        return (median(times[0]), median(times[1]))
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
