import ArgumentParser
import Foundation

/// The `svc2nft` command: a thin front over Svc2NftCore, Svc2NftNetlink and the agent.
@main
struct Svc2Nft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svc2nft",
        abstract: "Kubernetes Services and endpoints -> nftables rules, as kube-proxy's nftables mode would write them.",
        version: Version.current,
        subcommands: [Compile.self, Apply.self, Run.self, Delete.self, Explain.self, Graph.self, Diff.self]
    )

    /// As `AsyncParsableCommand.main()`, with kube-proxy's boolean flag forms
    /// (`GoFlags`) and exit codes from `Failure` (a bad option exits 2, not
    /// swift-argument-parser's 64).
    static func main() async {
        do {
            var command = try parseAsRoot(GoFlags.rewrite(Array(CommandLine.arguments.dropFirst())))
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
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

/// kube-proxy's flags are Go flags: a boolean takes `--flag=true|false`, and may be
/// written with one dash. swift-argument-parser knows `--flag` and `--no-flag`; this
/// rewrites the Go forms of svc2nft's boolean flags into those.
enum GoFlags {
    static let booleans = ["masquerade-all", "own-tables", "self-healing"]

    static func rewrite(_ arguments: [String]) -> [String] {
        arguments.map { argument in
            for name in booleans {
                switch argument {
                case "--\(name)=true", "-\(name)=true", "-\(name)": return "--\(name)"
                case "--\(name)=false", "-\(name)=false": return "--no-\(name)"
                default: continue
                }
            }
            return argument
        }
    }
}
