/// `explain`'s answer: the packet, every outcome with its path, and the reason in
/// Service terms (which Service, which policy, how many endpoints it may use here).
public struct Explanation: Sendable {
    public let packet: Packet
    public let outcomes: [Outcome]
    public let reasons: [String]

    /// Outcomes merged by verdict (paths differ only after the endpoint pick).
    public var summary: [(verdict: Outcome.Verdict, probability: Double, masqueraded: Bool)] {
        var order: [Outcome.Verdict] = []
        var totals: [Outcome.Verdict: (Double, Bool)] = [:]
        for outcome in outcomes {
            if totals[outcome.verdict] == nil { order.append(outcome.verdict) }
            let previous = totals[outcome.verdict] ?? (0, false)
            totals[outcome.verdict] = (previous.0 + outcome.probability, previous.1 || outcome.masqueraded)
        }
        return order.map { ($0, totals[$0]!.0, totals[$0]!.1) }
    }

    /// `localAddresses`: the node's addresses for `fib ... type local`, beyond `--node-ip`.
    public static func explain(_ packet: Packet, graph: RuleGraph, cluster: Cluster, node: NodeConfig, localAddresses: [IPAddress] = [])
        -> Explanation
    {
        let walk = PacketWalk(graph: graph, family: packet.destination.family, nodeIPs: node.nodeIPs + localAddresses)
        let outcomes = walk.outcomes(of: packet)
        var owners: [Owner] = []
        for outcome in outcomes {
            for step in outcome.path {
                if let owner = step.owner, !owners.contains(owner) { owners.append(owner) }
            }
        }
        var reasons = owners.compactMap { owner -> String? in
            guard let service = cluster.services.first(where: { $0.id == owner.service }),
                let port = service.ports.first(where: { $0.label == owner.port })
            else { return nil }
            return reason(service, port: port, family: packet.destination.family, cluster: cluster, node: node)
        }
        let droppedAsUnallocated = outcomes.contains { outcome in
            outcome.verdict == .drop && outcome.path.last?.rule.comment?.text == BaseChains.unallocatedComment
        }
        if droppedAsUnallocated, let cidr = node.serviceCIDRs.first(where: { $0.contains(packet.destination) }) {
            reasons.append(
                "\(packet.destination) is inside Service CIDR \(cidr) but no Service holds it: dropped, as kube-proxy drops traffic to unallocated ClusterIPs"
            )
        }
        return Explanation(packet: packet, outcomes: outcomes, reasons: reasons)
    }

    static func reason(_ service: Service, port: ServicePort, family: IPFamily, cluster: Cluster, node: NodeConfig) -> String {
        let endpoints = EndpointSelection.endpoints(for: port, in: cluster.slices[service.id] ?? [], family: family)
        let selection = EndpointSelection(endpoints: endpoints, service: service, node: node)
        let ready = endpoints.filter(\.endpoint.ready).count
        var parts = [
            "\(service.id):\(port.label) is a \(service.type.rawValue) Service with \(endpoints.count) endpoint\(endpoints.count == 1 ? "" : "s") (\(ready) ready)"
        ]
        if service.isExternallyAccessible {
            if service.externalPolicyLocal {
                parts.append(
                    "externalTrafficPolicy Local: \(selection.local.count) of \(endpoints.count) endpoints are on this node (\(node.nodeName ?? "no --node-name")); outside clients keep their address, pods and the node itself use all endpoints"
                )
            } else {
                parts.append(
                    "externalTrafficPolicy Cluster: outside traffic is masqueraded and may go to any of \(selection.cluster.count) endpoints"
                )
            }
        }
        if service.internalPolicyLocal {
            parts.append("internalTrafficPolicy Local: \(selection.local.count) endpoints on this node")
        }
        if selection.clusterUsesTerminating || selection.localUsesTerminating {
            parts.append("no ready endpoint, so serving endpoints that are terminating are used")
        }
        if selection.usedTopology {
            parts.append("topology hints: only endpoints hinted for zone \(node.nodeZone ?? "") are used")
        }
        if !selection.hasAnyEndpoints {
            parts.append("no usable endpoints: connections are rejected")
        } else if selection.allReachable.isEmpty {
            parts.append("endpoints exist only on other nodes and the policy is Local: dropped")
        }
        if case .clientIP(let timeout) = service.sessionAffinity {
            parts.append("sessionAffinity ClientIP: a client keeps its endpoint for \(timeout) s after its last connection")
        }
        return parts.joined(separator: "; ")
    }
}
