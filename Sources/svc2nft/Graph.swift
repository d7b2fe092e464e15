import ArgumentParser
import Foundation
import Svc2NftCommandLine
import Svc2NftCore

/// `svc2nft graph`: draw how traffic enters and where it goes.
struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw clients -> Service addresses -> policies -> endpoints, as DOT or Mermaid.")

    enum Format: String, ExpressibleByArgument { case dot, mermaid }

    @Option(help: "dot or mermaid.") var format: Format = .dot
    @OptionGroup var options: NodeOptions

    func run() throws {
        let (graph, _) = Pipeline.graph(options)
        let picture = TrafficGraph(graph)
        FileHandle.standardOutput.write(Data((format == .dot ? picture.dot : picture.mermaid).utf8))
    }
}
