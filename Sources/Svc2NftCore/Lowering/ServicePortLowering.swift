/// What one Service port contributes to one family's table: its own chains and sets,
/// and elements for the shared maps, keyed by map name.
struct PortContribution: Sendable {
    var chains: [Chain] = []
    var sets: [NamedSet] = []
    var elements: [SetName: [SetElement]] = [:]

    mutating func add(_ element: SetElement, to map: SetName) { elements[map, default: []].append(element) }
}

/// Lowers one Service port in one IP family, following kube-proxy's nftables proxier
/// (`syncProxyRules`, Kubernetes 1.33) decision by decision: which chains exist, which
/// map elements point where, and what happens without endpoints.
struct ServicePortLowering {
    let service: Service
    let port: ServicePort
    let family: IPFamily
    let node: NodeConfig
    let clusterIP: IPAddress
    let selection: EndpointSelection

    let owner: Owner
    /// `namespace/name/protocol/port`, the readable core of every name below
    /// (`ChainIdentity` builds and parses them).
    let identity: String
    /// The comment of every endpoint chain of this port (built once per port: there are
    /// ten endpoint chains per port in a typical cluster).
    let endpointComment: Comment

    init(service: Service, port: ServicePort, family: IPFamily, node: NodeConfig, clusterIP: IPAddress, selection: EndpointSelection) {
        self.service = service
        self.port = port
        self.family = family
        self.node = node
        self.clusterIP = clusterIP
        self.selection = selection
        owner = Owner(service: service.id, port: port.label)
        identity = ServicePortName(service: service.id, protocolName: port.protocol.rawValue, port: port.label).text
        endpointComment = Comment("\(owner) endpoint")
    }
    func name(_ role: ChainIdentity.Role, _ e: PortEndpoint? = nil) -> String {
        ChainIdentity.unversionedName(role, portText: identity, endpoint: e.map { EndpointName(address: $0.address, port: Int($0.port)) })
    }

    var affinityTimeout: Int? {
        if case .clientIP(let timeout) = service.sessionAffinity { return timeout }
        return nil
    }

    func affinitySet(_ e: PortEndpoint) -> SetName {
        Versioning.setName(
            name(.affinity, e), keyType: [KeyType.address(family)], isVerdictMap: false, timeoutSeconds: affinityTimeout)
    }

    var podCIDRs: [CIDR] { node.clusterCIDRs.filter { $0.family == family }.sorted() }

    static func addressOperand(_ cidrs: [CIDR]) -> AddressOperand { cidrs.count == 1 ? .prefix(cidrs[0]) : .prefixes(cidrs) }

    func lower() -> PortContribution {
        var out = PortContribution()
        let s = selection
        let hasEndpoints = s.hasAnyEndpoints
        let usesClusterChain = !s.cluster.isEmpty && EndpointSelection.usesClusterEndpoints(service)
        let usesLocalChain = !s.local.isEmpty && EndpointSelection.usesLocalEndpoints(service)
        let hasInternalEndpoints = service.internalPolicyLocal ? !s.local.isEmpty : hasEndpoints
        let hasExternalEndpoints = service.externalPolicyLocal ? !s.local.isEmpty : hasEndpoints
        let usesExternalChain = hasEndpoints && service.isExternallyAccessible

        // Chains bottom-up, each named after its content (see Versioning). Found by
        // address: a port's endpoints are unique by address (`EndpointSelection.endpoints`),
        // and hashing a whole `PortEndpoint` hashes its node name and zone hints too
        // (hashing was 3.5% of a 10,000-Service compile's samples).
        var endpointChains: [IPAddress: ChainName] = [:]
        endpointChains.reserveCapacity(s.allReachable.count)
        for endpoint in s.allReachable {
            let chain = endpointChain(for: endpoint)
            endpointChains[endpoint.address] = chain.name
            out.chains.append(chain)
            if let timeout = affinityTimeout {
                out.sets.append(
                    NamedSet(
                        name: affinitySet(endpoint), keyType: [KeyType.address(family)], isVerdictMap: false,
                        timeoutSeconds: timeout, owner: owner))
            }
        }

        let match: [Expr] = [.address(.destination, negated: false, .address(clusterIP)), .destinationPort(port.protocol, port.port)]
        var internalRules: [Rule] = []
        if node.masqueradeAll {
            internalRules.append(Rule(match + [.verdict(.jump(BaseChains.markForMasquerade))], comment: "masquerade-all"))
        } else if !podCIDRs.isEmpty {
            internalRules.append(
                Rule(
                    match + [
                        .address(.source, negated: true, Self.addressOperand(podCIDRs)), .verdict(.jump(BaseChains.markForMasquerade)),
                    ],
                    comment: "masquerade traffic from outside the cluster CIDR"))
        }
        var clusterChain: ChainName? = nil
        var localChain: ChainName? = nil
        if usesClusterChain {
            let (chain, groups) = policyChain(
                .service, endpoints: s.cluster, names: endpointChains, leading: service.internalPolicyLocal ? [] : internalRules,
                what: "cluster policy")
            clusterChain = chain.name
            out.chains += groups
            out.chains.append(chain)
        }
        if usesLocalChain {
            let (chain, groups) = policyChain(
                .local, endpoints: s.local, names: endpointChains, leading: service.internalPolicyLocal ? internalRules : [],
                what: "local policy")
            localChain = chain.name
            out.chains += groups
            out.chains.append(chain)
        }
        let internalChain = service.internalPolicyLocal ? localChain : clusterChain
        let externalPolicyChain = service.externalPolicyLocal ? localChain : clusterChain
        var externalChain: ChainName? = nil
        if usesExternalChain, let clusterChain {
            let chain = external(clusterChain: clusterChain, policyChain: hasExternalEndpoints ? externalPolicyChain : nil)
            externalChain = chain.name
            out.chains.append(chain)
        }

        // No endpoints at all: REJECT. Endpoints, but none for a Local policy: DROP.
        let reject = Verdict.goto(BaseChains.rejectChain)
        let internalFilterVerdict: Verdict? = !hasEndpoints ? reject : hasInternalEndpoints ? nil : .drop
        let externalFilterVerdict: Verdict? = !hasEndpoints ? reject : hasExternalEndpoints ? nil : .drop

        let proto = KeyValue.proto(port.protocol)
        let servicePort = KeyValue.port(port.port)
        out.add(SetElement(key: [.address(clusterIP)]), to: BaseChains.clusterIPs)

        // ClusterIP.
        if hasInternalEndpoints, let internalChain {
            out.add(SetElement(key: [.address(clusterIP), proto, servicePort], verdict: .goto(internalChain)), to: BaseChains.serviceIPs)
        } else if let verdict = internalFilterVerdict {
            out.add(SetElement(key: [.address(clusterIP), proto, servicePort], verdict: verdict), to: BaseChains.noEndpointServices)
        }

        // External IPs.
        for ip in Set(service.externalIPs.filter { $0.family == family }).sorted() {
            if let externalChain {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: .goto(externalChain)), to: BaseChains.serviceIPs)
            }
            if !hasExternalEndpoints, let verdict = externalFilterVerdict {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: verdict), to: BaseChains.noEndpointServices)
            }
        }

        // LoadBalancer ingress (ipMode Proxy: the load balancer proxies; nothing to do here).
        let lbIPs = Set(service.loadBalancerIngress.filter { !$0.proxyMode && $0.ip.family == family }.map(\.ip)).sorted()
        let sourceRanges = service.loadBalancerSourceRanges.filter { $0.family == family }
        var firewallChain: ChainName? = nil
        if !lbIPs.isEmpty && !sourceRanges.isEmpty {
            let chain = firewall(sourceRanges: sourceRanges, lbIPs: lbIPs)
            firewallChain = chain.name
            out.chains.append(chain)
        }
        for ip in lbIPs {
            if let externalChain {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: .goto(externalChain)), to: BaseChains.serviceIPs)
            }
            if let firewallChain {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: .goto(firewallChain)), to: BaseChains.firewallIPs)
            }
            if !hasExternalEndpoints, let verdict = externalFilterVerdict {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: verdict), to: BaseChains.noEndpointServices)
            }
        }

        // NodePort.
        if port.nodePort != 0 {
            let key: [KeyValue] = [proto, .port(port.nodePort)]
            if let externalChain {
                out.add(SetElement(key: key, verdict: .goto(externalChain)), to: BaseChains.serviceNodePorts)
            }
            if !hasExternalEndpoints, let verdict = externalFilterVerdict {
                out.add(SetElement(key: key, verdict: verdict), to: BaseChains.noEndpointNodePorts)
            }
        }
        return out
    }

    /// `fw-…`: drop LoadBalancer traffic whose source is outside the allowed ranges. If a
    /// node address is inside them, LB IPs are allowed as sources too: a node reaching a
    /// VIP that is local to it sends from the VIP.
    func firewall(sourceRanges: [CIDR], lbIPs: [IPAddress]) -> Chain {
        var allowed = Set(sourceRanges)
        if node.nodeIPs.contains(where: { ip in sourceRanges.contains { $0.contains(ip) } }) {
            for ip in lbIPs { allowed.insert(CIDR(address: ip, prefixLength: family.bitWidth)) }
        }
        let operand: AddressOperand = allowed.count == 1 ? .prefix(allowed.first!) : .prefixes(allowed.sorted())
        return Versioning.chain(
            name(.firewall), comment: "\(owner) loadBalancerSourceRanges",
            rules: [
                Rule([.address(.source, negated: true, operand), .verdict(.drop)])
            ], owner: owner)
    }

    /// `ext-…`: traffic to NodePorts, external IPs and LoadBalancer IPs; `policyChain`
    /// is nil when this policy has no endpoints here (the rest is dropped).
    func external(clusterChain: ChainName, policyChain: ChainName?) -> Chain {
        var rules: [Rule] = []
        if !service.externalPolicyLocal {
            rules.append(Rule([.verdict(.jump(BaseChains.markForMasquerade))], comment: "externalTrafficPolicy Cluster: masquerade"))
        } else {
            var policy = "externalTrafficPolicy Local"
            if service.healthCheckNodePort != 0 { policy += ", healthCheckNodePort \(service.healthCheckNodePort)" }
            if !podCIDRs.isEmpty {
                rules.append(
                    Rule(
                        [.address(.source, negated: false, Self.addressOperand(podCIDRs)), .verdict(.goto(clusterChain))],
                        comment: "short-circuit pod traffic"))
            }
            rules.append(
                Rule([.fibLocal(.source), .verdict(.jump(BaseChains.markForMasquerade))], comment: "\(policy): masquerade local traffic"))
            rules.append(Rule([.fibLocal(.source), .verdict(.goto(clusterChain))], comment: "short-circuit local traffic"))
        }
        if let policyChain {
            rules.append(Rule([.verdict(.goto(policyChain))]))
        }
        return Versioning.chain(name(.external), comment: "\(owner) external traffic", rules: rules, owner: owner)
    }

    /// `svc-…` / `local-…`: affinity lookups, then a random pick among `endpoints`
    /// (with the group chains of a large pick).
    func policyChain(_ role: ChainIdentity.Role, endpoints: [PortEndpoint], names: [IPAddress: ChainName], leading: [Rule], what: String)
        -> (policy: Chain, groups: [Chain])
    {
        var rules = leading
        if affinityTimeout != nil {
            for endpoint in endpoints {
                rules.append(
                    Rule([.address(.source, negated: false, .named(affinitySet(endpoint))), .verdict(.goto(names[endpoint.address]!))]))
            }
        }
        let verdicts: [Verdict] = endpoints.map { .goto(names[$0.address]!) }
        return Versioning.policyChain(name(role), comment: "\(owner) \(what)", rules: rules, verdicts: verdicts, owner: owner)
    }

    /// `ep-…`: hairpin masquerade, affinity update, DNAT.
    func endpointChain(for endpoint: PortEndpoint) -> Chain {
        var rules = [
            Rule(
                [.address(.source, negated: false, .address(endpoint.address)), .verdict(.jump(BaseChains.markForMasquerade))],
                comment: "hairpin")
        ]
        if affinityTimeout != nil {
            rules.append(Rule([.rememberSource(affinitySet(endpoint))]))
        }
        rules.append(Rule([.l4Protocol(port.protocol), .dnat(endpoint.address, endpoint.port)]))
        return Versioning.chain(name(.endpoint, endpoint), preparedComment: endpointComment, rules: rules, owner: owner)
    }
}
