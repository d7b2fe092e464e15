/// How traffic enters and where it goes, read off the rule graph's dispatch maps:
/// clients -> ClusterIP / external or LoadBalancer IP / NodePort -> the Service port's
/// policy chains -> endpoints, with short-circuits, source-range firewalls, REJECT and
/// DROP visible. Rendered by `svc2nft graph` as DOT or Mermaid; deterministic.
public struct TrafficGraph: Sendable {
    /// A box in the drawing: a client, a Service address, a policy, an endpoint, a verdict.
    public struct Node: Hashable, Sendable {
        public let id: String
        public let label: String
        public let kind: Kind
        public enum Kind: String, Sendable { case client, entry, policy, endpoint, verdict }
    }

    /// An arrow, labelled with why or how likely (masqueraded, 1/2, source ranges).
    public struct Edge: Hashable, Sendable {
        public let from: String
        public let to: String
        public let label: String
    }

    public private(set) var nodes: [Node] = []
    public private(set) var edges: [Edge] = []
    private var ids: [String: String] = [:]

    mutating func node(_ key: String, _ label: String, _ kind: Node.Kind) -> String {
        if let id = ids[key] { return id }
        let id = "n\(ids.count)"
        ids[key] = id
        nodes.append(Node(id: id, label: label, kind: kind))
        return id
    }

    mutating func edge(_ from: String, _ to: String, _ label: String = "") {
        let edge = Edge(from: from, to: to, label: label)
        if !edges.contains(edge) { edges.append(edge) }
    }

    public init(_ graph: RuleGraph) {
        let pods = node("client:pods", "pods and this node", .client)
        let outside = node("client:outside", "outside clients", .client)
        for table in graph.tables {
            let sets = Dictionary(table.sets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let chains = Dictionary(table.chains.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let clusterIPs = Set(
                sets[BaseChains.clusterIPs]?.elements.compactMap { element -> IPAddress? in
                    if case .address(let ip)? = element.key.first { return ip }
                    return nil
                } ?? [])
            let firewalled = Set(sets[BaseChains.firewallIPs]?.elements.map(\.key) ?? [])

            func entry(_ key: [KeyValue]) -> String {
                let text = Self.keyText(key)
                if case .address(let ip)? = key.first {
                    if clusterIPs.contains(ip) {
                        let id = node("entry:\(text)", "ClusterIP \(text)", .entry)
                        edge(pods, id)
                        return id
                    }
                    let id = node("entry:\(text)", "external/LB IP \(text)", .entry)
                    edge(outside, id, firewalled.contains(key) ? "loadBalancerSourceRanges" : "")
                    edge(pods, id)
                    return id
                }
                let id = node("entry:\(text)", "NodePort \(text)", .entry)
                edge(outside, id)
                edge(pods, id)
                return id
            }

            func verdictNode(_ verdict: Verdict, reason: String) -> String {
                switch verdict {
                case .drop: return node("verdict:drop:\(reason)", "DROP (\(reason))", .verdict)
                default: return node("verdict:reject", "REJECT (no endpoints)", .verdict)
                }
            }

            var visited: Set<ChainName> = []
            func follow(_ chainName: ChainName, from: String, label: String) {
                guard let chain = chains[chainName] else { return }
                let id = node("chain:\(table.family.rawValue):\(chainName)", Self.chainLabel(chain), .policy)
                edge(from, id, label)
                guard visited.insert(chainName).inserted else { return }
                // An unconditional jump to mark-for-masquerade: everything after it is masqueraded.
                let masquerades = chain.rules.contains { $0.exprs == [.verdict(.jump(BaseChains.markForMasquerade))] }
                // The random pick: rules that are `numgen random mod k 0 goto ep-…` or a
                // bare `goto ep-…`, one endpoint each, 1/N apiece; or, for many
                // endpoints, `numgen random mod k < w goto <group>`, a group chain of such
                // rules (see `Versioning.policyChain`).
                func pick(_ rule: Rule) -> [String]? {
                    guard case .verdict(.goto(let target))? = rule.exprs.last,
                        rule.exprs.dropLast().allSatisfy({ if case .randomPick = $0 { true } else { false } })
                    else { return nil }
                    if let endpoint = Self.dnatTarget(chains[target]) { return [endpoint] }
                    guard target.identity?.pickGroup != nil, let group = chains[target] else { return nil }
                    let members = group.rules.map(pick)
                    return members.contains { $0 == nil } ? nil : members.flatMap { $0! }
                }
                let picks = chain.rules.compactMap(pick).flatMap { $0 }
                for endpoint in picks {
                    edge(id, node("endpoint:\(endpoint)", endpoint, .endpoint), "1/\(picks.count)")
                }
                for rule in chain.rules where pick(rule) == nil {
                    for expr in rule.exprs {
                        if case .verdict(.goto(let target)) = expr, target != BaseChains.markForMasquerade {
                            follow(target, from: id, label: rule.comment?.text ?? (masquerades ? "masqueraded" : ""))
                        }
                    }
                }
            }

            for mapName in [BaseChains.serviceIPs, BaseChains.serviceNodePorts] {
                for element in sets[mapName]?.elements ?? [] {
                    guard case .goto(let target)? = element.verdict else { continue }
                    follow(target, from: entry(element.key), label: "")
                }
            }
            for mapName in [BaseChains.noEndpointServices, BaseChains.noEndpointNodePorts] {
                for element in sets[mapName]?.elements ?? [] {
                    guard let verdict = element.verdict else { continue }
                    let reason = verdict == .drop ? "policy Local: no endpoint on this node" : "no endpoints"
                    edge(entry(element.key), verdictNode(verdict, reason: reason), "new connections")
                }
            }
            // Service CIDRs (`--service-cidr`, ServiceCIDR objects): addresses no Service holds are dropped (cluster-ips-check).
            for chain in table.chains {
                for rule in chain.rules where rule.comment?.text == BaseChains.unallocatedComment {
                    guard case .address(.destination, false, let operand)? = rule.exprs.first else { continue }
                    let cidrs: [CIDR] =
                        switch operand {
                        case .prefix(let cidr): [cidr]
                        case .prefixes(let list): list
                        default: []
                        }
                    let text = cidrs.map(\.description).joined(separator: ", ")
                    let id = node("entry:unallocated:\(text)", "unallocated ClusterIPs in \(text)", .entry)
                    edge(pods, id)
                    edge(outside, id)
                    edge(id, verdictNode(.drop, reason: "no Service holds the address"), "Service CIDR")
                }
            }
        }
    }

    static func keyText(_ key: [KeyValue]) -> String {
        var address = ""
        var proto = ""
        var port = ""
        for part in key {
            switch part {
            case .address(let ip): address = ip.family == .v4 ? ip.description : "[\(ip)]"
            case .proto(let p): proto = p.rawValue
            case .port(let p): port = String(p)
            }
        }
        return address.isEmpty ? "\(proto)/\(port)" : "\(address):\(port)/\(proto)"
    }

    static func chainLabel(_ chain: Chain) -> String {
        chain.comment?.text ?? chain.name.text
    }

    /// "10.244.1.5:8080/tcp": where the endpoint chain DNATs to.
    static func dnatTarget(_ chain: Chain?) -> String? {
        for rule in chain?.rules ?? [] {
            var proto = ""
            for expr in rule.exprs {
                if case .l4Protocol(let p) = expr { proto = "/\(p.rawValue)" }
                if case .dnat(let ip, let port) = expr { return (ip.family == .v4 ? "\(ip):\(port)" : "[\(ip)]:\(port)") + proto }
            }
        }
        return nil
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    /// Graphviz DOT.
    public var dot: String {
        var out =
            "digraph svc2nft {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n"
        let shapes: [Node.Kind: String] = [
            .client: "ellipse", .entry: "box", .policy: "box, style=rounded", .endpoint: "box, style=filled, fillcolor=\"#e8f4e8\"",
            .verdict: "octagon, style=filled, fillcolor=\"#f8e0e0\"",
        ]
        for node in nodes {
            out += "  \(node.id) [label=\"\(Self.escape(node.label))\", shape=\(shapes[node.kind]!)];\n"
        }
        for edge in edges {
            out += "  \(edge.from) -> \(edge.to)\(edge.label.isEmpty ? "" : " [label=\"\(Self.escape(edge.label))\"]");\n"
        }
        return out + "}\n"
    }

    /// Mermaid flowchart (renders in GitHub Markdown).
    public var mermaid: String {
        var out = "flowchart LR\n"
        for node in nodes {
            let label = node.label.replacingOccurrences(of: "\"", with: "#quot;")
            switch node.kind {
            case .client: out += "  \(node.id)([\"\(label)\"])\n"
            case .verdict: out += "  \(node.id){{\"\(label)\"}}\n"
            case .endpoint: out += "  \(node.id)[[\"\(label)\"]]\n"
            default: out += "  \(node.id)[\"\(label)\"]\n"
            }
        }
        for edge in edges {
            let label = edge.label.replacingOccurrences(of: "\"", with: "#quot;").replacingOccurrences(of: "|", with: "/")
            out += "  \(edge.from) -->\(label.isEmpty ? "" : "|\"\(label)\"|") \(edge.to)\n"
        }
        return out
    }
}
