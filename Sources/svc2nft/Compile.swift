import ArgumentParser
import Foundation
import Svc2NftCore

/// `svc2nft compile`: print the ruleset `apply` would install, as an `nft -f` script.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the nftables ruleset for the given Services and endpoints.")

    @OptionGroup var options: NodeOptions

    func run() throws {
        let (graph, _) = Pipeline.graph(options)
        FileHandle.standardOutput.write(Data(NftText.render(graph).utf8))
    }
}
