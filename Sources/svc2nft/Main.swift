import ArgumentParser

/// The `svc2nft` command: a thin front over Svc2NftCore and Svc2NftNetlink.
@main
struct Svc2Nft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svc2nft",
        abstract: "Kubernetes Services and endpoints -> nftables rules, as kube-proxy's nftables mode would write them.",
        version: Version.current,
        subcommands: [Compile.self, Apply.self, Run.self, Delete.self, Explain.self, Graph.self, Diff.self]
    )

    static func main() async {
        await main(GoFlags.rewrite(Array(CommandLine.arguments.dropFirst())))
    }
}

/// kube-proxy's flags are Go flags: a boolean takes `--flag=true|false`, and may be
/// written with one dash. swift-argument-parser knows `--flag` and `--no-flag`; this
/// rewrites the Go forms of svc2nft's boolean flags into those.
enum GoFlags {
    static let booleans = ["masquerade-all"]

    static func rewrite(_ arguments: [String]) -> [String] {
        arguments.compactMap { argument in
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
