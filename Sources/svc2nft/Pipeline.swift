import Foundation
import Svc2NftCommandLine
import Svc2NftCore

/// The shared front half of every command: read and validate input, print notes and
/// warnings, lower to a rule graph. Exits 2 on any bad input, before anything is built.
enum Pipeline {
    static func graph(_ options: NodeOptions) -> (RuleGraph, NodeConfig) {
        let (graph, node, cluster) = model(options)
        Release.inBackground(cluster)
        return (graph, node)
    }

    /// The graph, the node options and the validated cluster it came from.
    static func model(_ options: NodeOptions) -> (RuleGraph, NodeConfig, Cluster) {
        let (cluster, node) = cluster(options)
        return (Lowering.lower(cluster, node: node), node, cluster)
    }

    /// The validated cluster and the node options, not yet lowered.
    static func cluster(_ options: NodeOptions) -> (Cluster, NodeConfig) {
        orExit {
            let node = try options.nodeConfig()
            let objects = try ManifestReader.read(paths: options.paths)
            defer { Release.inBackground(objects) }
            let cluster = try validated(objects, options)
            return (cluster, node.adding(serviceCIDRs: cluster.serviceCIDRs))
        }
    }

    /// For `apply --follow`: the node options and the objects of the input files (none:
    /// none), validated as a whole as `compile` does.
    static func validatedObjects(_ options: NodeOptions) -> (NodeConfig, [RawObject]) {
        orExit {
            let node = try options.nodeConfig()
            guard !options.paths.isEmpty else { return (node, []) }
            let objects = try ManifestReader.read(paths: options.paths)
            _ = try validated(objects, options)
            return (node, objects)
        }
    }

    /// The cluster the objects make, with its notes and warnings printed.
    private static func validated(_ objects: [RawObject], _ options: NodeOptions) throws -> Cluster {
        let (cluster, report) = try ClusterLoader.load(objects, keepGoing: options.keepGoing)
        for note in report.notes { printError("note: \(note)") }
        for warning in report.warnings { printError("warning: \(warning)") }
        // An empty file, empty standard input or a directory without manifests is more
        // often a mistake than a cluster without Services (`apply` refuses it).
        if cluster.services.isEmpty { printError("warning: no Services in the input") }
        return cluster
    }

    /// Runs `body`; on bad input or a bad option prints every error and exits 2.
    private static func orExit<T>(_ body: () throws -> T) -> T {
        do {
            return try body()
        } catch let failure as LoadFailure {
            for error in failure.errors { printError("error: \(error)") }
        } catch {
            printError("error: \(error)")
        }
        exit(Failure.badInput.exitCode)
    }

    /// Ends a successful command. The graph (hundreds of thousands of values at 10,000
    /// Services) goes with the process instead of being freed value by value, as
    /// compilers do: 50-70 ms of a 10,000-Service compile or apply.
    static func finish<Kept>(keeping kept: Kept) -> Never {
        withExtendedLifetime(kept) { Foundation.exit(0) }
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Frees a large value on another thread, so the caller goes on at once.
enum Release {
    /// The parsed input tree is not needed after validation: freed while lowering runs,
    /// a 10,000-Service compile peaks at 225 MB instead of 317 MB at no cost in time.
    static func inBackground<T: Sendable>(_ value: consuming T) {
        let box = Box(value)
        DispatchQueue.global(qos: .utility).async { box.value = nil }
    }

    private final class Box<T>: @unchecked Sendable {
        var value: T?
        init(_ value: T) { self.value = value }
    }
}
