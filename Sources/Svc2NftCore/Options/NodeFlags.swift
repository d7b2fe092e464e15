import Foundation
/// The node options as a command line (or a kube-proxy configuration file) gives them,
/// before they are checked: one place that turns them into a `NodeConfig`, for the
/// `svc2nft` commands and for tests. Lists take repeats and comma lists alike, as
/// kube-proxy's flags do.
public struct NodeFlags: Sendable, Equatable {
    public var nodeName: String?
    public var nodeZone: String?
    public var nodeIPs: [String] = []
    public var clusterCIDRs: [String] = []
    public var nodePortAddresses: [String] = []
    public var serviceCIDRs: [String] = []
    public var masqueradeAll: Bool?
    public var table = NodeConfig.defaultTableName

    public init() {}

    /// These flags, with what they leave unset taken from a kube-proxy configuration file
    /// (flags win, as in kube-proxy).
    public func filled(from file: KubeProxyConfiguration) -> NodeFlags {
        var flags = self
        if flags.nodeName == nil { flags.nodeName = file.hostnameOverride }
        if flags.clusterCIDRs.isEmpty { flags.clusterCIDRs = file.clusterCIDRs }
        if flags.nodePortAddresses.isEmpty { flags.nodePortAddresses = file.nodePortAddresses }
        if flags.masqueradeAll == nil { flags.masqueradeAll = file.masqueradeAll }
        return flags
    }

    /// The checked configuration; throws naming the bad option and value.
    public func nodeConfig() throws(UsageError) -> NodeConfig {
        var config = NodeConfig(nodeName: nodeName, nodeZone: nodeZone, masqueradeAll: masqueradeAll ?? false, tableName: table)
        for text in Self.items(nodeIPs) {
            guard let ip = IPAddress(text) else { throw UsageError("--node-ip: \"\(text)\" is not an IP address") }
            config.nodeIPs.append(ip)
        }
        for text in Self.items(clusterCIDRs) {
            guard let cidr = CIDR(text) else { throw UsageError("--cluster-cidr: \"\(text)\" is not a CIDR (such as 10.244.0.0/16)") }
            config.clusterCIDRs.append(cidr)
        }
        let nodePort = Self.items(nodePortAddresses)
        // kube-proxy's `primary`: NodePorts on the node's primary addresses only, which is
        // what svc2nft does with the node's addresses (`--node-ip`, or the Node in `run`)
        // and no CIDRs.
        if nodePort.contains("primary"), nodePort.count > 1 {
            throw UsageError("--nodeport-addresses: \"primary\" cannot be combined with CIDRs")
        }
        for text in nodePort where text != "primary" {
            guard let cidr = CIDR(text) else { throw UsageError("--nodeport-addresses: \"\(text)\" is not a CIDR (or primary)") }
            if cidr.prefixLength == cidr.family.bitWidth, cidr.address.isLoopback {
                throw UsageError("--nodeport-addresses: \"\(text)\" is loopback; NodePorts on loopback are refused")
            }
            config.nodePortAddresses.append(cidr)
        }
        for text in Self.items(serviceCIDRs) {
            guard let cidr = CIDR(text) else {
                throw UsageError("--service-cidr: \"\(text)\" is not a CIDR (such as 10.96.0.0/12 or fd00:10:96::/112)")
            }
            if !config.serviceCIDRs.contains(cidr) { config.serviceCIDRs.append(cidr) }
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

    /// Repeats and comma lists alike, trimmed.
    static func items(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// A bad command-line value: exit 2 with the message.
public struct UsageError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
