import Foundation
import Svc2NftCore

/// The shared front half of every command: read and validate input, print notes and
/// warnings, lower to a rule graph. Exits 2 on any bad input, before anything is built.
enum Pipeline {
    static func graph(_ options: NodeOptions) -> (RuleGraph, NodeConfig) {
        do {
            let node = try options.nodeConfig()
            let objects = try ManifestReader.read(paths: options.paths)
            let (cluster, report) = try ClusterLoader.load(objects, keepGoing: options.keepGoing)
            for note in report.notes { printError("note: \(note)") }
            for warning in report.warnings { printError("warning: \(warning)") }
            return (Lowering.lower(cluster, node: node), node)
        } catch let failure as LoadFailure {
            for error in failure.errors { printError("error: \(error)") }
        } catch {
            printError("error: \(error)")
        }
        exit(2)
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
