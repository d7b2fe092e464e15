import ArgumentParser
import Foundation
import Svc2NftCommandLine
import Svc2NftCore

/// `svc2nft compile`: print the ruleset `apply` would install, as an `nft -f` script.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the nftables ruleset for the given Services and endpoints.")

    @OptionGroup var options: NodeOptions

    func run() throws {
        let (graph, _) = Pipeline.graph(options)
        for var piece in NftText.pieces(graph) {
            piece.withUTF8 { bytes in
                var rest = UnsafeRawBufferPointer(bytes)
                while !rest.isEmpty {
                    let written = write(1, rest.baseAddress, rest.count)
                    if written < 0 {
                        if errno == EINTR { continue }
                        Pipeline.printError("error: writing the ruleset: \(String(cString: strerror(errno)))")
                        Foundation.exit(Failure.output.exitCode)
                    }
                    rest = UnsafeRawBufferPointer(rebasing: rest[written...])
                }
            }
        }
        Pipeline.finish(keeping: graph)
    }
}
