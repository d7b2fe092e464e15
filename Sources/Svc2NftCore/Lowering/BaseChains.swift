/// The fixed part of the ruleset, named as in kube-proxy's nftables mode: base chains
/// (hook, priority and why), the helper chains they jump to, and the dispatch maps.
enum BaseChains {
    static let markMasqBit: UInt32 = 0x4000

    // Fixed regular chains.
    static let services = ChainName("services")
    static let firewallCheck = ChainName("firewall-check")
    static let serviceEndpointsCheck = ChainName("service-endpoints-check")
    static let nodePortEndpointsCheck = ChainName("nodeport-endpoints-check")
    static let clusterIPsCheck = ChainName("cluster-ips-check")
    static let markForMasquerade = ChainName("mark-for-masquerade")
    static let masquerading = ChainName("masquerading")
    static let rejectChain = ChainName("reject-chain")

    // Fixed sets and maps.
    static let clusterIPs = SetName("cluster-ips")
    static let nodePortIPs = SetName("nodeport-ips")
    static let serviceIPs = SetName("service-ips")
    static let serviceNodePorts = SetName("service-nodeports")
    static let firewallIPs = SetName("firewall-ips")
    static let noEndpointServices = SetName("no-endpoint-services")
    static let noEndpointNodePorts = SetName("no-endpoint-nodeports")

    /// nft's named priorities: dstnat is -100, srcnat 100.
    static let dstnat = -100
    static let srcnat = 100

    /// One base chain: `(name, type, hook, priority, jumps, why)`. Filter chains run at
    /// dstnat-10, before DNAT, so they see the Service address the client used; the
    /// post-DNAT output chain at dstnat+10 sees the result.
    struct Row {
        let name: String
        let type: ChainType
        let hook: Hook
        let priority: Int
        let newOnly: Bool
        let jumps: [ChainName]
        let why: String
    }

    static let rows: [Row] = [
        Row(
            name: "filter-prerouting", type: .filter, hook: .prerouting, priority: dstnat - 10, newOnly: true,
            jumps: [firewallCheck], why: "drop LoadBalancer traffic from outside loadBalancerSourceRanges"),
        Row(
            name: "filter-input", type: .filter, hook: .input, priority: dstnat - 10, newOnly: true,
            jumps: [nodePortEndpointsCheck, serviceEndpointsCheck], why: "reject or drop traffic to Services without endpoints"),
        Row(
            name: "filter-forward", type: .filter, hook: .forward, priority: dstnat - 10, newOnly: true,
            jumps: [serviceEndpointsCheck, clusterIPsCheck], why: "reject or drop traffic to Services without endpoints"),
        Row(
            name: "filter-output", type: .filter, hook: .output, priority: dstnat - 10, newOnly: true,
            jumps: [serviceEndpointsCheck, firewallCheck], why: "local traffic: no-endpoint and source-range checks"),
        Row(
            name: "filter-output-post-dnat", type: .filter, hook: .output, priority: dstnat + 10, newOnly: true,
            jumps: [clusterIPsCheck], why: "reject local traffic to ClusterIP ports that no Service serves"),
        Row(
            name: "nat-prerouting", type: .nat, hook: .prerouting, priority: dstnat, newOnly: false,
            jumps: [services], why: "DNAT incoming Service traffic"),
        Row(
            name: "nat-output", type: .nat, hook: .output, priority: dstnat, newOnly: false,
            jumps: [services], why: "DNAT Service traffic from this node"),
        Row(
            name: "nat-postrouting", type: .nat, hook: .postrouting, priority: srcnat, newOnly: false,
            jumps: [masquerading], why: "masquerade marked traffic"),
    ]

    /// The base chains; `names` maps a fixed name to its content-versioned one.
    static func baseChains(jumpingTo names: [ChainName: ChainName]) -> [Chain] {
        rows.map { row in
            Chain(
                name: ChainName(row.name), kind: .base(row.type, row.hook, priority: row.priority), comment: row.why,
                rules: row.jumps.map { Rule((row.newOnly ? [.ctStateNew] : []) + [.verdict(.jump(names[$0] ?? $0))]) })
        }
    }

    /// Where NodePorts answer: the `nodeport-ips` set when node addresses are known, else
    /// any local address (inside `--nodeport-addresses`, never loopback).
    static func nodePortDestination(_ node: NodeConfig, family: IPFamily) -> [Expr] {
        if node.nodeIPs.contains(where: { $0.family == family }) {
            return [.address(.destination, negated: false, .named(nodePortIPs))]
        }
        let cidrs = node.nodePortAddresses.filter { $0.family == family }.sorted()
        let notLoopback: AddressOperand = family == .v4 ? .prefix(CIDR("127.0.0.0/8")!) : .address(IPAddress("::1")!)
        var exprs: [Expr] = [.fibLocal(.destination)]
        if cidrs.count == 1 {
            exprs.append(.address(.destination, negated: false, .prefix(cidrs[0])))
        } else if cidrs.count > 1 {
            exprs.append(.address(.destination, negated: false, .prefixes(cidrs)))
        }
        exprs.append(.address(.destination, negated: true, notLoopback))
        return exprs
    }

    /// The node addresses in `nodeport-ips`: `--node-ip`s inside `--nodeport-addresses`
    /// (all of them when none given), loopback refused.
    static func nodePortIPElements(_ node: NodeConfig, family: IPFamily) -> [SetElement] {
        let cidrs = node.nodePortAddresses.filter { $0.family == family }
        let ips = node.nodeIPs.filter { ip in
            ip.family == family && !ip.isLoopback && (cidrs.isEmpty || cidrs.contains { $0.contains(ip) })
        }
        return Set(ips).sorted().map { SetElement(key: [.address($0)]) }
    }

    /// The fixed regular chains, and the versioned names of the two that depend on
    /// options (where NodePorts answer), which are content-named.
    static func regularChains(_ node: NodeConfig, family: IPFamily) -> (chains: [Chain], versioned: [ChainName: ChainName]) {
        let destination = nodePortDestination(node, family: family)
        let dispatch = Versioning.chain(
            services.text, comment: "dispatch by destination: ClusterIPs, external IPs, LoadBalancer IPs, then NodePorts",
            rules: [
                Rule([.verdictMap(.addressProtocolPort, serviceIPs)]),
                Rule(destination + [.verdictMap(.protocolPort, serviceNodePorts)]),
            ], owner: nil)
        let nodePortCheck = Versioning.chain(
            nodePortEndpointsCheck.text, comment: nil, rules: [Rule(destination + [.verdictMap(.protocolPort, noEndpointNodePorts)])],
            owner: nil)
        let clusterIPCheck = clusterIPsCheckChain(node, family: family)
        let chains = [
            dispatch,
            Chain(name: firewallCheck, rules: [Rule([.verdictMap(.addressProtocolPort, firewallIPs)])]),
            Chain(name: serviceEndpointsCheck, rules: [Rule([.verdictMap(.addressProtocolPort, noEndpointServices)])]),
            nodePortCheck,
            clusterIPCheck,
            Chain(name: markForMasquerade, rules: [Rule([.markSet(markMasqBit)])]),
            Chain(
                name: masquerading,
                rules: [
                    Rule([.markBitClear(markMasqBit), .verdict(.return)]),
                    Rule([.markToggle(markMasqBit)]),
                    Rule([.masqueradeFullyRandom]),
                ]),
            Chain(name: rejectChain, comment: "Service without endpoints", rules: [Rule([.reject])]),
        ]
        return (
            chains, [services: dispatch.name, nodePortEndpointsCheck: nodePortCheck.name, clusterIPsCheck: clusterIPCheck.name]
        )
    }

    /// `cluster-ips-check`, as kube-proxy's nftables proxier writes it (Kubernetes 1.33):
    /// reject traffic to ports of live ClusterIPs that no Service port serves (a live
    /// ClusterIP's served ports were DNATed before this chain runs), then drop traffic to
    /// any other address inside the Service CIDRs: an unallocated ClusterIP, which would
    /// otherwise follow the default route off the node. Drop, not reject, as kube-proxy:
    /// nothing answers for an address no Service holds. With Service CIDRs the chain
    /// depends on options, so it is content-named like `services`; without, it keeps its
    /// plain name.
    static let unallocatedComment = "drop traffic to unallocated ClusterIPs"

    static func clusterIPsCheckChain(_ node: NodeConfig, family: IPFamily) -> Chain {
        var rules = [
            Rule(
                [.address(.destination, negated: false, .named(clusterIPs)), .reject],
                comment: "reject traffic to invalid ports of ClusterIPs")
        ]
        let cidrs = Set(node.serviceCIDRs.filter { $0.family == family }).sorted()
        guard !cidrs.isEmpty else { return Chain(name: clusterIPsCheck, rules: rules) }
        let operand: AddressOperand = cidrs.count == 1 ? .prefix(cidrs[0]) : .prefixes(cidrs)
        rules.append(
            Rule([.address(.destination, negated: false, operand), .verdict(.drop)], comment: unallocatedComment))
        return Versioning.chain(clusterIPsCheck.text, comment: nil, rules: rules, owner: nil)
    }

    /// The fixed sets and maps, empty; lowering fills in the elements.
    static func sets(_ node: NodeConfig, family: IPFamily) -> [NamedSet] {
        let address = KeyType.address(family)
        let dispatch: [KeyType] = [address, .inetProtocol, .inetService]
        let portKey: [KeyType] = [.inetProtocol, .inetService]
        return [
            NamedSet(name: clusterIPs, keyType: [address], isVerdictMap: false, comment: "active ClusterIPs"),
            NamedSet(
                name: nodePortIPs, keyType: [address], isVerdictMap: false, comment: "IPs that accept NodePort traffic",
                elements: nodePortIPElements(node, family: family)),
            NamedSet(name: serviceIPs, keyType: dispatch, isVerdictMap: true, comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
            NamedSet(name: serviceNodePorts, keyType: portKey, isVerdictMap: true, comment: "NodePort traffic"),
            NamedSet(
                name: firewallIPs, keyType: dispatch, isVerdictMap: true,
                comment: "destinations that are subject to LoadBalancerSourceRanges"),
            NamedSet(
                name: noEndpointServices, keyType: dispatch, isVerdictMap: true,
                comment: "vmap to drop or reject packets to services with no endpoints"),
            NamedSet(
                name: noEndpointNodePorts, keyType: portKey, isVerdictMap: true,
                comment: "vmap to drop or reject packets to service nodeports with no endpoints"),
        ]
    }
}
