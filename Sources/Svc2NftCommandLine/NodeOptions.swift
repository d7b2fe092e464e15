import ArgumentParser
import Foundation
import Svc2NftCore

/// Options every command that builds a ruleset shares: the node's identity and the
/// input paths. A library, so that tests read a fixture's `args` exactly as the
/// `svc2nft` commands read their command line (`NodeOptions.parse(arguments)`).
public struct NodeOptions: ParsableArguments {
    @Option(
        name: [.customLong("node-name"), .customLong("hostname-override")],
        help: "This node's name: endpoints with this nodeName are local (--hostname-override is kube-proxy's name for it).")
    public var nodeName: String?

    @Option(name: .customLong("node-zone"), help: "This node's zone, for topology-aware routing (endpoint zone hints).")
    public var nodeZone: String?

    @Option(name: .customLong("node-ip"), help: "An address of this node (repeatable, or a comma list). NodePorts answer on these.")
    public var nodeIPs: [String] = []

    @Option(name: .customLong("cluster-cidr"), help: "A pod CIDR (repeatable, or a comma list). Traffic to a ClusterIP from outside these is masqueraded.")
    public var clusterCIDRs: [String] = []

    @Option(name: .customLong("nodeport-addresses"), help: "Only node addresses inside this CIDR accept NodePorts (repeatable, or a comma list; 'primary': the node's addresses).")
    public var nodePortAddresses: [String] = []

    @Option(
        name: .customLong("service-cidr"),
        help:
            "A Service CIDR (repeatable, or a comma list; both families). Traffic to an address inside it that no Service holds is dropped."
    )
    public var serviceCIDRs: [String] = []

    @Flag(
        name: .customLong("masquerade-all"), inversion: .prefixedNo,
        help: "Masquerade all Service traffic (--masquerade-all=true|false as kube-proxy takes it).")
    public var masqueradeAll: Bool?

    @Option(help: "A kube-proxy configuration file (KubeProxyConfiguration); flags override it.")
    public var config: String?

    @Option(name: .customLong("table"), help: "Name of our ip and ip6 tables.")
    public var table: String = NodeConfig.defaultTableName

    @Flag(name: .customLong("keep-going"), help: "Skip invalid objects with a warning instead of failing.")
    public var keepGoing = false

    @Argument(help: "Manifest files or directories (*.json, *.yaml, *.yml); '-' or none reads standard input.")
    public var paths: [String] = []

    public init() {}

    /// kube-proxy's configuration file (`--config`), read once; nil without `--config`.
    public func configurationFile() throws(UsageError) -> KubeProxyConfiguration? {
        guard let config else { return nil }
        do {
            return try KubeProxyConfiguration.read(config)
        } catch {
            throw UsageError("--config: \(error)")
        }
    }

    /// The flags as given, filled from `--config` where they are not.
    public func flags(_ file: KubeProxyConfiguration?) -> NodeFlags {
        var flags = NodeFlags()
        flags.nodeName = nodeName
        flags.nodeZone = nodeZone
        flags.nodeIPs = nodeIPs
        flags.clusterCIDRs = clusterCIDRs
        flags.nodePortAddresses = nodePortAddresses
        flags.serviceCIDRs = serviceCIDRs
        flags.masqueradeAll = masqueradeAll
        flags.table = table
        return file.map { flags.filled(from: $0) } ?? flags
    }

    /// Validates the options; throws a message naming the bad option.
    public func nodeConfig() throws(UsageError) -> NodeConfig {
        try flags(try configurationFile()).nodeConfig()
    }
}
