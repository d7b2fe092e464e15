import ArgumentParser
import Foundation

/// The `svc2nft` command: a thin front over Svc2NftCore and Svc2NftNetlink.
@main
struct Svc2Nft: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svc2nft",
        abstract: "Kubernetes Services and endpoints -> nftables rules, as kube-proxy's nftables mode would write them.",
        subcommands: [Compile.self, Apply.self, Delete.self, Explain.self, Graph.self, Diff.self]
    )

    /// As `ParsableCommand.main()`, with exit codes from `Failure` (a bad option exits 2,
    /// not swift-argument-parser's 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = Failure.exitCode(for: error, of: self)
            if !(error is Failure) {
                let message = fullMessage(for: error)
                if !message.isEmpty {
                    let stream = code == 0 ? FileHandle.standardOutput : FileHandle.standardError
                    stream.write(Data((message + "\n").utf8))
                }
            }
            Foundation.exit(code)
        }
    }
}
