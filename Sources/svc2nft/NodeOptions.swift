import ArgumentParser
import Svc2NftCore

/// Options every command that builds a ruleset shares: the node's identity and the
/// input paths.
struct NodeOptions: ParsableArguments {
    @Option(name: .customLong("node-name"), help: "This node's name: endpoints with this nodeName are local.")
    var nodeName: String?

    @Option(name: .customLong("node-zone"), help: "This node's zone, for topology-aware routing (endpoint zone hints).")
    var nodeZone: String?

    @Option(name: .customLong("node-ip"), help: "An address of this node (repeatable). NodePorts answer on these.")
    var nodeIPs: [String] = []

    @Option(name: .customLong("cluster-cidr"), help: "A pod CIDR (repeatable). Traffic to a ClusterIP from outside these is masqueraded.")
    var clusterCIDRs: [String] = []

    @Option(name: .customLong("nodeport-addresses"), help: "Only node addresses inside this CIDR accept NodePorts (repeatable).")
    var nodePortAddresses: [String] = []

    @Flag(name: .customLong("masquerade-all"), help: "Masquerade all Service traffic.")
    var masqueradeAll = false

    @Option(name: .customLong("table"), help: "Name of our ip and ip6 tables.")
    var table: String = NodeConfig.defaultTableName

    @Flag(name: .customLong("keep-going"), help: "Skip invalid objects with a warning instead of failing.")
    var keepGoing = false

    @Argument(help: "Manifest files or directories (*.json, *.yaml, *.yml); '-' or none reads standard input.")
    var paths: [String] = []

    /// Validates the options; throws a message naming the bad option.
    func nodeConfig() throws(UsageError) -> NodeConfig {
        var config = NodeConfig(nodeName: nodeName, nodeZone: nodeZone, masqueradeAll: masqueradeAll, tableName: table)
        for text in nodeIPs {
            guard let ip = IPAddress(text) else { throw UsageError("--node-ip: \"\(text)\" is not an IP address") }
            config.nodeIPs.append(ip)
        }
        for text in clusterCIDRs {
            guard let cidr = CIDR(text) else { throw UsageError("--cluster-cidr: \"\(text)\" is not a CIDR (such as 10.244.0.0/16)") }
            config.clusterCIDRs.append(cidr)
        }
        for text in nodePortAddresses {
            guard let cidr = CIDR(text) else { throw UsageError("--nodeport-addresses: \"\(text)\" is not a CIDR") }
            if cidr.prefixLength == cidr.family.bitWidth, cidr.address.isLoopback {
                throw UsageError("--nodeport-addresses: \"\(text)\" is loopback; NodePorts on loopback are refused")
            }
            config.nodePortAddresses.append(cidr)
        }
        if let nodeZone, !KubernetesName.isLabelValue(nodeZone) {
            throw UsageError("--node-zone: \"\(nodeZone)\" is not a zone name (a label value, as topology.kubernetes.io/zone)")
        }
        if let nodeName, !KubernetesName.isDNSSubdomain(nodeName) {
            throw UsageError("--node-name: \"\(nodeName)\" is not a valid node name")
        }
        guard NodeConfig.isValidTableName(table) else {
            throw UsageError(
                "--table: \"\(table)\" is not a usable table name (letters, digits, '-', '_', starting with a letter; not an nft keyword)")
        }
        return config
    }
}

/// A bad command-line value: exit 2 with the message.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
