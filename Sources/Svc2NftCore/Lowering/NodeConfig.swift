/// What svc2nft knows about the node it writes rules for: the command-line options
/// shared by `compile`, `apply`, `explain` and friends.
public struct NodeConfig: Sendable, Hashable {
    /// `--node-name`: endpoints with this `nodeName` are local.
    public var nodeName: String?
    /// `--node-zone`: enables topology-aware routing when every endpoint carries zone hints.
    public var nodeZone: String?
    /// `--node-ip`: this node's addresses.
    public var nodeIPs: [IPAddress]
    /// `--cluster-cidr`: pod CIDRs; traffic from elsewhere to a ClusterIP is masqueraded.
    public var clusterCIDRs: [CIDR]
    /// `--nodeport-addresses`: NodePorts answer only on node addresses inside these.
    public var nodePortAddresses: [CIDR]
    /// `--service-cidr`: the Service CIDRs (both families); traffic to an address inside
    /// them that no Service holds is dropped.
    public var serviceCIDRs: [CIDR]
    /// `--masquerade-all`
    public var masqueradeAll: Bool
    /// `--table`: the name of our `ip` and `ip6` tables.
    public var tableName: String

    public static let defaultTableName = "svc2nft"

    public init(
        nodeName: String? = nil, nodeZone: String? = nil, nodeIPs: [IPAddress] = [], clusterCIDRs: [CIDR] = [],
        nodePortAddresses: [CIDR] = [], serviceCIDRs: [CIDR] = [], masqueradeAll: Bool = false,
        tableName: String = NodeConfig.defaultTableName
    ) {
        self.nodeName = nodeName
        self.nodeZone = nodeZone
        self.nodeIPs = nodeIPs
        self.clusterCIDRs = clusterCIDRs
        self.nodePortAddresses = nodePortAddresses
        self.serviceCIDRs = serviceCIDRs
        self.masqueradeAll = masqueradeAll
        self.tableName = tableName
    }

    /// This configuration with more Service CIDRs (from `ServiceCIDR` objects), each
    /// once, after the `--service-cidr` ones.
    public func adding(serviceCIDRs more: [CIDR]) -> NodeConfig {
        var config = self
        for cidr in more where !config.serviceCIDRs.contains(cidr) { config.serviceCIDRs.append(cidr) }
        return config
    }

    /// Table names must be plain nft identifiers and not nft keywords, which nft refuses
    /// as names: letters, digits, `-`, `_`, starting with a letter, at most 64 bytes.
    public static func isValidTableName(_ name: String) -> Bool {
        guard name.utf8.count <= 64, NftIdentifier.isIdentifier(name), !name.contains("/"), !name.contains(".") else { return false }
        return !nftKeywords.contains(name)
    }

    /// nft keywords that are plausible table names; nft's scanner refuses them as identifiers.
    static let nftKeywords: Set<String> = [
        "ip", "ip6", "inet", "arp", "bridge", "netdev", "table", "chain", "set", "map", "rule", "element",
        "filter", "nat", "route", "mark", "meta", "ct", "tcp", "udp", "sctp", "counter", "log", "drop",
        "accept", "reject", "jump", "goto", "return", "queue", "flowtable", "policy", "type", "hook", "add",
        "delete", "flush", "list", "create", "insert", "replace", "reset", "comment", "dnat", "snat",
        "masquerade", "redirect", "limit", "quota", "numgen", "fib", "ether", "vlan", "icmp", "icmpv6",
    ]
}
