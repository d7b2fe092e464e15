import ArgumentParser
import Foundation
import Svc2NftCommandLine
import Svc2NftCore
import Svc2NftNetlink

/// `svc2nft diff`: what is live in the kernel vs. what `compile` would produce.
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Compare the live tables with the input, in Service terms (root). Exit 0 equal, 1 different, 2 bad input, 3 cannot read the kernel."
    )

    @OptionGroup var options: NodeOptions

    func run() throws {
        let (graph, _) = Pipeline.graph(options)
        var lines: [String] = []
        do {
            let reader = try MNLTransport()
            for table in graph.tables {
                let live = try reader.live(table.family, table: table.name)
                lines += TableDiff.compare(expected: LiveTable.expected(table), live: live, family: table.family, table: table.name)
            }
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.kernelUnreadable
        }
        if lines.isEmpty {
            Pipeline.printError("no differences: the kernel holds exactly what compile produces")
            return
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        throw Failure.differences
    }
}
