import Foundation
import Svc2NftCore
import Svc2NftNetlink

/// `svc2nft-bench`: `generate N M` prints a synthetic cluster; `phases FILE` times the
/// compile phases in-process; `conntrack N E` times the conntrack cleanup
/// (ConntrackProbe.swift); `run-latency N C` times event to kernel under `svc2nft run`
/// (RunProbe.swift); `partial-sync N C` times kube-proxy's partial sync of one
/// Service with `nft -f` (PartialSync.swift); `heal-gap N F` times the outage after `nft flush ruleset` under
/// `svc2nft run` (HealProbe.swift); `endpoint-choice` times first connections by a
/// Service's number of endpoints (EndpointChoiceProbe.swift); `run` prints the benchmark table (see Bench.swift).
@main
struct BenchMain {
    static func main() throws {
        let args = Array(CommandLine.arguments.dropFirst())
        switch args.first {
        case "generate":
            guard args.count >= 3, let n = Int(args[1]), let m = Int(args[2]) else { usage() }
            let changed = args.count >= 4 ? Int(args[3]) : nil
            FileHandle.standardOutput.write(Data(Generator(services: n, endpoints: m, changed: changed).generate().utf8))
        case "phases":
            guard args.count == 2 else { usage() }
            try Phases.run(file: args[1])
        case "run":
            try Bench.run(arguments: Array(args.dropFirst()))
        case "conntrack":
            print(
                ConntrackProbe.run(
                    services: args.count > 1 ? Int(args[1]) ?? 10000 : 10000, entries: args.count > 2 ? Int(args[2]) ?? 100_000 : 100_000))
        case "run-latency":
            guard args.count == 3, let n = Int(args[1]), let count = Int(args[2]) else { usage() }
            let file = try generatedCluster(n)
            defer { try? FileManager.default.removeItem(atPath: file) }
            guard let result = try RunProbe.run(binary: Bench.svc2nft, cluster: file, count: count) else {
                FileHandle.standardError.write(Data("run-latency: svc2nft run failed\n".utf8))
                exit(1)
            }
            print(String(format: "run, %d Services x 10: first full apply %.2f s; event to kernel ", n, result.initial) + RunProbe.summary(result.latencies) + " (\(count) changes)")
        case "heal-gap":
            guard args.count == 3, let n = Int(args[1]), let flushes = Int(args[2]) else { usage() }
            let file = try generatedCluster(n)
            defer { try? FileManager.default.removeItem(atPath: file) }
            print(HealProbe.line(binary: Bench.svc2nft, cluster: file, services: n, flushes: flushes))
            print(HealProbe.ownedLine(binary: Bench.svc2nft, cluster: file, services: n, flushes: flushes))
        case "endpoint-choice":
            let rounds = args.count > 1 ? Int(args[1]) ?? 3 : 3, connections = args.count > 2 ? Int(args[2]) ?? 400 : 400
            let sizes = [10, 1000, 5000]
            let medians: [Int: Double]?
            do {
                medians = try EndpointChoiceProbe.run(binary: Bench.svc2nft, sizes: sizes, rounds: rounds, connections: connections)
            } catch {
                Bench.log("endpoint choice: \(error)")
                medians = nil
            }
            guard let medians else { exit(1) }
            print(EndpointChoiceProbe.line(medians, sizes: sizes, rounds: rounds, connections: connections))
        case "partial-sync":
            guard args.count == 3, let n = Int(args[1]), let count = Int(args[2]) else { usage() }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-partial-\(getpid())").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let input = "\(directory)/cluster.json", changed = "\(directory)/changed.json", ruleset = "\(directory)/cluster.nft"
            try Generator(services: n, endpoints: 10).generate().write(toFile: input, atomically: false, encoding: .utf8)
            try Generator(services: n, endpoints: 10, changed: n / 2).generate().write(toFile: changed, atomically: false, encoding: .utf8)
            guard Spawn.run([Bench.svc2nft, "compile"] + Bench.nodeArgs + [input], stdout: ruleset).ok,
                let times = try Bench.partialSync(ruleset: ruleset, changed: changed, directory: directory, size: n, count: count, timeout: 600)
            else {
                FileHandle.standardError.write(Data("partial-sync: failed (/tmp/svc2nft-bench.stderr)\n".utf8))
                exit(1)
            }
            print(
                String(
                    format: "partial sync, %d Services x 10: nft -f of a one-Service delta: median %.1f ms (%.1f-%.1f) over %d", n,
                    Bench.median(times) * 1000, times.min()! * 1000, times.max()! * 1000, count))
        case "conntrack-inner":
            guard args.count == 3, let n = Int(args[1]), let e = Int(args[2]) else { usage() }
            try ConntrackProbe.inner(services: n, entries: e)
        default:
            usage()
        }
    }

    /// A generated cluster of `services` x 10 in a temporary file (the caller removes it).
    static func generatedCluster(_ services: Int) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-cluster-\(getpid())-\(services).json").path
        try Generator(services: services, endpoints: 10).generate().write(toFile: file, atomically: false, encoding: .utf8)
        return file
    }

    static func usage() -> Never {
        FileHandle.standardError.write(
            Data(
                "usage: svc2nft-bench generate SERVICES ENDPOINTS [CHANGED] | phases FILE | conntrack [SERVICES] [ENTRIES] | run-latency SERVICES CHANGES | partial-sync SERVICES COUNT | heal-gap SERVICES FLUSHES | endpoint-choice [ROUNDS] [CONNECTIONS] | run [--sizes 1000,10000] [--growth 1000,50000] [--nft-timeout S] [--repeats 3] [--out DIR]\n"
                    .utf8))
        exit(2)
    }
}

/// Wall time of each compile phase, and of encoding apply's batch, in-process.
enum Phases {
    /// One phase: wall seconds, and CPU seconds over wall seconds (how many cores it kept busy).
    struct Phase {
        let label: String
        let seconds: Double
        let cores: Double
    }

    /// Runs `body` and records how long it took.
    static func time<T>(_ label: String, _ phases: inout [Phase], _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        let cpu = cpuSeconds()
        let value = try body()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        phases.append(Phase(label: label, seconds: wall, cores: (cpuSeconds() - cpu) / max(wall, 1e-9)))
        return value
    }

    /// CPU seconds of the process so far, all threads.
    static func cpuSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func run(file: String) throws {
        var phases: [Phase] = []
        let bytes = try time("read", &phases) { try ManifestBytes(reading: file) }
        let objects = try time("parse", &phases) { try ManifestReader.parse(bytes, file: file) }
        let loaded = try time("load", &phases) { try ClusterLoader.load(objects, keepGoing: false) }
        let node = NodeConfig(nodeName: "node-0", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.128.0.0/9")!])
        let graph = time("lower", &phases) { Lowering.lower(loaded.0, node: node) }
        let text = time("emit", &phases) { NftText.render(graph) }
        let plan = time("encode", &phases) { GraphEncoder.plan(graph) }
        print(
            phases.map { String(format: "%@ %.3f", $0.label, $0.seconds) }.joined(separator: "  ")
                + "  (\(text.utf8.count) bytes of text, \(plan.byteCount) bytes encoded)")
        print("cores busy: " + phases.map { String(format: "%@ %.1f", $0.label, $0.cores) }.joined(separator: "  "))
    }
}
