/// What one Service port contributes to one family's table: its own chains and sets,
/// and elements for the shared maps, keyed by map name.
struct PortContribution {
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

    var owner: Owner { Owner(service: service.id, port: port.label) }
    var identity: String { "\(service.id.namespace)/\(service.id.name)/\(port.protocol.rawValue)/\(port.label)" }
    var clusterChain: ChainName { ChainName("svc-\(identity)") }
    var localChain: ChainName { ChainName("local-\(identity)") }
    var externalChain: ChainName { ChainName("ext-\(identity)") }
    var firewallChain: ChainName { ChainName("fw-\(identity)") }
    func endpointChain(_ e: PortEndpoint) -> ChainName { ChainName("ep-\(identity)__\(e.address.identifierText)/\(e.port)") }
    func affinitySet(_ e: PortEndpoint) -> SetName { SetName("aff-\(identity)__\(e.address.identifierText)/\(e.port)") }

    var podCIDRs: [CIDR] { node.clusterCIDRs.filter { $0.family == family }.sorted() }

    static func addressOperand(_ cidrs: [CIDR]) -> AddressOperand { cidrs.count == 1 ? .prefix(cidrs[0]) : .prefixes(cidrs) }

    func lower() -> PortContribution {
        var out = PortContribution()
        let s = selection
        let hasEndpoints = s.hasAnyEndpoints
        let usesClusterChain = !s.cluster.isEmpty && EndpointSelection.usesClusterEndpoints(service)
        let usesLocalChain = !s.local.isEmpty && EndpointSelection.usesLocalEndpoints(service)
        let internalChain = service.internalPolicyLocal ? localChain : clusterChain
        let hasInternalEndpoints = service.internalPolicyLocal ? !s.local.isEmpty : hasEndpoints
        let externalPolicyChain = service.externalPolicyLocal ? localChain : clusterChain
        let hasExternalEndpoints = service.externalPolicyLocal ? !s.local.isEmpty : hasEndpoints
        let usesExternalChain = hasEndpoints && service.isExternallyAccessible

        // No endpoints at all: REJECT. Endpoints, but none for a Local policy: DROP.
        let reject = Verdict.goto(BaseChains.rejectChain)
        let internalFilterVerdict: Verdict? = !hasEndpoints ? reject : hasInternalEndpoints ? nil : .drop
        let externalFilterVerdict: Verdict? = !hasEndpoints ? reject : hasExternalEndpoints ? nil : .drop

        let proto = KeyValue.proto(port.protocol)
        let servicePort = KeyValue.port(port.port)
        out.add(SetElement(key: [.address(clusterIP)]), to: BaseChains.clusterIPs)

        // ClusterIP.
        var internalRules: [Rule] = []
        if hasInternalEndpoints {
            let match: [Expr] = [.address(.destination, negated: false, .address(clusterIP)), .destinationPort(port.protocol, port.port)]
            if node.masqueradeAll {
                internalRules.append(Rule(match + [.verdict(.jump(BaseChains.markForMasquerade))], comment: "masquerade-all"))
            } else if !podCIDRs.isEmpty {
                internalRules.append(Rule(
                    match + [.address(.source, negated: true, Self.addressOperand(podCIDRs)), .verdict(.jump(BaseChains.markForMasquerade))],
                    comment: "masquerade traffic from outside the cluster CIDR"))
            }
            out.add(SetElement(key: [.address(clusterIP), proto, servicePort], verdict: .goto(internalChain)), to: BaseChains.serviceIPs)
        } else if let verdict = internalFilterVerdict {
            out.add(SetElement(key: [.address(clusterIP), proto, servicePort], verdict: verdict), to: BaseChains.noEndpointServices)
        }

        // External IPs.
        for ip in Set(service.externalIPs.filter { $0.family == family }).sorted() {
            if hasEndpoints {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: .goto(externalChain)), to: BaseChains.serviceIPs)
            }
            if !hasExternalEndpoints, let verdict = externalFilterVerdict {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: verdict), to: BaseChains.noEndpointServices)
            }
        }

        // LoadBalancer ingress (ipMode Proxy: the load balancer proxies; nothing to do here).
        let lbIPs = Set(service.loadBalancerIngress.filter { !$0.proxyMode && $0.ip.family == family }.map(\.ip)).sorted()
        let sourceRanges = service.loadBalancerSourceRanges.filter { $0.family == family }
        let usesFirewall = !lbIPs.isEmpty && !sourceRanges.isEmpty
        for ip in lbIPs {
            if hasEndpoints {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: .goto(externalChain)), to: BaseChains.serviceIPs)
            }
            if usesFirewall {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: .goto(firewallChain)), to: BaseChains.firewallIPs)
            }
            if !hasExternalEndpoints, let verdict = externalFilterVerdict {
                out.add(SetElement(key: [.address(ip), proto, servicePort], verdict: verdict), to: BaseChains.noEndpointServices)
            }
        }
        if usesFirewall {
            out.chains.append(firewall(sourceRanges: sourceRanges, lbIPs: lbIPs))
        }

        // NodePort.
        if port.nodePort != 0 {
            let key: [KeyValue] = [proto, .port(port.nodePort)]
            if hasEndpoints {
                out.add(SetElement(key: key, verdict: .goto(externalChain)), to: BaseChains.serviceNodePorts)
            }
            if !hasExternalEndpoints, let verdict = externalFilterVerdict {
                out.add(SetElement(key: key, verdict: verdict), to: BaseChains.noEndpointNodePorts)
            }
        }

        if usesExternalChain {
            out.chains.append(external(policyChain: externalPolicyChain, hasExternalEndpoints: hasExternalEndpoints))
        }
        if usesClusterChain {
            let masq = internalChain == clusterChain ? internalRules : []
            out.chains.append(policyChain(clusterChain, endpoints: s.cluster, leading: masq, what: "cluster policy"))
        }
        if usesLocalChain {
            let masq = internalChain == localChain ? internalRules : []
            out.chains.append(policyChain(localChain, endpoints: s.local, leading: masq, what: "local policy"))
        }
        for endpoint in s.allReachable {
            out.chains.append(endpointChain(for: endpoint))
            if case .clientIP(let timeout) = service.sessionAffinity {
                out.sets.append(NamedSet(
                    name: affinitySet(endpoint), keyType: [KeyType.address(family)], isVerdictMap: false,
                    timeoutSeconds: timeout, owner: owner))
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
        return Chain(
            name: firewallChain, comment: "\(owner) loadBalancerSourceRanges", rules: [
                Rule([.address(.source, negated: true, operand), .verdict(.drop)])
            ], owner: owner)
    }

    /// `ext-…`: traffic to NodePorts, external IPs and LoadBalancer IPs.
    func external(policyChain: ChainName, hasExternalEndpoints: Bool) -> Chain {
        var rules: [Rule] = []
        if !service.externalPolicyLocal {
            rules.append(Rule([.verdict(.jump(BaseChains.markForMasquerade))], comment: "externalTrafficPolicy Cluster: masquerade"))
        } else {
            var policy = "externalTrafficPolicy Local"
            if service.healthCheckNodePort != 0 { policy += ", healthCheckNodePort \(service.healthCheckNodePort)" }
            if !podCIDRs.isEmpty {
                rules.append(Rule([.address(.source, negated: false, Self.addressOperand(podCIDRs)), .verdict(.goto(clusterChain))], comment: "short-circuit pod traffic"))
            }
            rules.append(Rule([.fibLocal(.source), .verdict(.jump(BaseChains.markForMasquerade))], comment: "\(policy): masquerade local traffic"))
            rules.append(Rule([.fibLocal(.source), .verdict(.goto(clusterChain))], comment: "short-circuit local traffic"))
        }
        if hasExternalEndpoints {
            rules.append(Rule([.verdict(.goto(policyChain))]))
        }
        return Chain(name: externalChain, comment: "\(owner) external traffic", rules: rules, owner: owner)
    }

    /// `svc-…` / `local-…`: affinity lookups, then a random pick among `endpoints`.
    func policyChain(_ name: ChainName, endpoints: [PortEndpoint], leading: [Rule], what: String) -> Chain {
        var rules = leading
        if case .clientIP = service.sessionAffinity {
            for endpoint in endpoints {
                rules.append(Rule([.address(.source, negated: false, .named(affinitySet(endpoint))), .verdict(.goto(endpointChain(endpoint)))]))
            }
        }
        rules.append(Rule([.randomVerdict(endpoints.map { .goto(endpointChain($0)) })]))
        return Chain(name: name, comment: "\(owner) \(what)", rules: rules, owner: owner)
    }

    /// `ep-…`: hairpin masquerade, affinity update, DNAT.
    func endpointChain(for endpoint: PortEndpoint) -> Chain {
        var rules = [Rule([.address(.source, negated: false, .address(endpoint.address)), .verdict(.jump(BaseChains.markForMasquerade))], comment: "hairpin")]
        if case .clientIP = service.sessionAffinity {
            rules.append(Rule([.rememberSource(affinitySet(endpoint))]))
        }
        rules.append(Rule([.l4Protocol(port.protocol), .dnat(endpoint.address, endpoint.port)]))
        return Chain(name: endpointChain(endpoint), comment: "\(owner) endpoint", rules: rules, owner: owner)
    }
}
