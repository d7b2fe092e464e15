import Foundation
import Svc2NftCore
import Svc2NftNetlink

/// `svc2nft-bench`: `generate N M` prints a synthetic cluster; `phases FILE` times the
/// compile phases in-process; `run` prints the benchmark table (see Bench.swift).
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
        default:
            usage()
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(
            Data(
                "usage: svc2nft-bench generate SERVICES ENDPOINTS [CHANGED] | phases FILE | run [--sizes 1000,10000] [--growth 1000,50000] [--nft-timeout S] [--repeats 3] [--out DIR]\n"
                    .utf8))
        exit(2)
    }
}

/// Wall time of each compile phase, and of encoding apply's batch, in-process.
enum Phases {
    /// Runs `body`; returns its value, wall seconds and the process's CPU seconds (all threads).
    static func time<T>(_ label: String, _ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let cpu = cpuSeconds()
        let value = try body()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        cores[label] = (cpuSeconds() - cpu) / max(wall, 1e-9)
        return (value, wall)
    }

    /// CPU seconds over wall seconds of each phase: how many cores it kept busy.
    nonisolated(unsafe) static var cores: [String: Double] = [:]

    static func cpuSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func run(file: String) throws {
        let (bytes, read) = try time("read") { try ManifestBytes(mapping: file) }
        let (objects, parse) = try time("parse") { try ManifestReader.parse(bytes, file: file) }
        let (loaded, load) = try time("load") { try ClusterLoader.load(objects, keepGoing: false) }
        let node = NodeConfig(nodeName: "node-0", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.128.0.0/9")!])
        let (graph, lower) = time("lower") { Lowering.lower(loaded.0, node: node) }
        let (text, emit) = time("emit") { NftText.render(graph) }
        let (plan, encode) = time("encode") { GraphEncoder.plan(graph) }
        print(
            String(
                format: "read %.3f  parse %.3f  load %.3f  lower %.3f  emit %.3f  (%d bytes out)  encode %.3f (%d bytes)", read, parse,
                load, lower, emit, text.utf8.count, encode, plan.byteCount))
        print(
            "cores busy: "
                + ["read", "parse", "load", "lower", "emit", "encode"].map { String(format: "%@ %.1f", $0, cores[$0] ?? 0) }
                .joined(separator: "  "))
    }
}
