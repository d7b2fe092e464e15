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
}
