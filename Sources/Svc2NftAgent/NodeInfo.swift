import Svc2NftCore

/// What `run` learns from this node's `Node` object: its addresses, zone and pod CIDRs
/// (which fill the node options the command line left open), and whether the cluster is
/// taking the node out of service.
public struct NodeInfo: Sendable, Equatable {
    /// kube-proxy's node IPs: the first `InternalIP` of each family, else the first
    /// `ExternalIP` (as `GetNodeHostIPs` picks them).
    public var addresses: [IPAddress] = []
    /// The `topology.kubernetes.io/zone` label.
    public var zone: String?
    /// `spec.podCIDRs`, for `--detect-local-mode NodeCIDR`.
    public var podCIDRs: [CIDR] = []
    /// False while the Node is being deleted or is tainted `ToBeDeletedByClusterAutoscaler`
    /// (kube-proxy's `/healthz` then reports it not eligible for load-balancer traffic).
    public var eligible = true

    public init() {}

    public init(_ node: Value) {
        let status = node["status"]
        var byFamily: [IPFamily: IPAddress] = [:]
        for type in ["InternalIP", "ExternalIP"] {
            guard case .array(let entries)? = status?["addresses"] else { break }
            for entry in entries {
                guard case .string(type)? = entry["type"], case .string(let text)? = entry["address"],
                    let ip = IPAddress(text), byFamily[ip.family] == nil
                else { continue }
                byFamily[ip.family] = ip
            }
        }
        addresses = IPFamily.allCases.compactMap { byFamily[$0] }
        if case .string(let zone)? = node["metadata"]?["labels"]?["topology.kubernetes.io/zone"], !zone.isEmpty {
            self.zone = zone
        }
        if case .array(let cidrs)? = node["spec"]?["podCIDRs"] {
            podCIDRs = cidrs.compactMap { if case .string(let text) = $0 { CIDR(text) } else { nil } }
        } else if case .string(let text)? = node["spec"]?["podCIDR"], let cidr = CIDR(text) {
            podCIDRs = [cidr]
        }
        let deleting = node["metadata"]?["deletionTimestamp"].map { $0 != .null } ?? false
        var tainted = false
        if case .array(let taints)? = node["spec"]?["taints"] {
            tainted = taints.contains { $0["key"] == .string("ToBeDeletedByClusterAutoscaler") }
        }
        eligible = !deleting && !tainted
    }
}

/// How `run` tells pod traffic from other traffic (kube-proxy's `--detect-local-mode`).
public enum DetectLocalMode: String, Sendable, CaseIterable {
    /// `--cluster-cidr` (or the config file's `clusterCIDR`).
    case clusterCIDR = "ClusterCIDR"
    /// This node's `spec.podCIDRs`.
    case nodeCIDR = "NodeCIDR"
}

extension NodeConfig {
    /// The options given on the command line, with what they left open taken from the
    /// Node: addresses and zone when not given; pod CIDRs in `NodeCIDR` mode.
    public func filled(from info: NodeInfo, mode: DetectLocalMode) -> NodeConfig {
        var config = self
        if config.nodeIPs.isEmpty { config.nodeIPs = info.addresses }
        if config.nodeZone == nil { config.nodeZone = info.zone }
        if mode == .nodeCIDR { config.clusterCIDRs = info.podCIDRs }
        return config
    }
}
