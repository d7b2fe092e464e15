/// The conntrack view of the cluster: each UDP and SCTP Service frontend of this node
/// (ClusterIP, external IP and LoadBalancer IP · protocol · port; protocol · NodePort on
/// the node's addresses) with the addresses of the endpoints that serve it now. After an
/// apply, a conntrack entry to a frontend whose reply source is none of them is stale:
/// it points at a gone endpoint, or it was made while the Service had no endpoints (no
/// DNAT, so its reply source is the frontend itself).
///
/// Follows kube-proxy's `CleanStaleEntries` (pkg/proxy/conntrack/cleanup.go, Kubernetes
/// 1.33): every serving endpoint counts, whatever the traffic policy, topology or
/// terminating state ("changes to the Service should not affect existing flows"), and
/// a frontend without serving endpoints is left alone (its entries are cleared once it
/// has some). Unlike kube-proxy, SCTP counts too, and NodePorts count only on the node
/// addresses NodePorts answer on (kube-proxy: any destination) when `--node-ip` is given.
/// Pure: the same cluster and node give the same value.
public struct ServiceBackends: Sendable, Equatable {
    /// A Service address, protocol and port.
    public struct Frontend: Hashable, Sendable {
        public let address: IPAddress
        public let `protocol`: L4Protocol
        public let port: UInt16

        public init(address: IPAddress, protocol: L4Protocol, port: UInt16) {
            self.address = address
            self.protocol = `protocol`
            self.port = port
        }
    }

    /// A NodePort of one family.
    public struct NodePort: Hashable, Sendable {
        public let family: IPFamily
        public let `protocol`: L4Protocol
        public let port: UInt16

        public init(family: IPFamily, protocol: L4Protocol, port: UInt16) {
            self.family = family
            self.protocol = `protocol`
            self.port = port
        }
    }

    /// The protocols whose entries go stale: connectionless, so a client keeps sending
    /// into one entry. TCP entries end with their connection.
    public static let protocols: Set<L4Protocol> = [.udp, .sctp]

    public private(set) var frontends: [Frontend: Set<IPAddress>] = [:]
    public private(set) var nodePorts: [NodePort: Set<IPAddress>] = [:]
    /// Where NodePorts answer; empty means any address (no `--node-ip`).
    public let nodePortAddresses: Set<IPAddress>

    /// The families and protocols that have frontends, sorted: only their entries can
    /// be stale, so only they are read.
    public var families: [(family: IPFamily, protocol: L4Protocol)] {
        let pairs = Set(frontends.keys.map { FamilyProtocol($0.address.family, $0.protocol) })
            .union(nodePorts.keys.map { FamilyProtocol($0.family, $0.protocol) })
        return pairs.sorted { ($0.family, $0.protocol) < ($1.family, $1.protocol) }.map { ($0.family, $0.protocol) }
    }

    private struct FamilyProtocol: Hashable {
        let family: IPFamily
        let `protocol`: L4Protocol
        init(_ family: IPFamily, _ proto: L4Protocol) {
            self.family = family
            self.protocol = proto
        }
    }

    /// No UDP or SCTP frontend has endpoints: no entry can be stale, no dump is needed.
    public var isEmpty: Bool { frontends.isEmpty && nodePorts.isEmpty }

    /// One Service's frontends and their serving endpoints; `ServiceBackends` is the
    /// union of every Service's part. Empty for a Service without UDP or SCTP ports.
    public struct Part: Sendable, Equatable {
        public fileprivate(set) var frontends: [Frontend: Set<IPAddress>] = [:]
        public fileprivate(set) var nodePorts: [NodePort: Set<IPAddress>] = [:]
        public var isEmpty: Bool { frontends.isEmpty && nodePorts.isEmpty }
    }

    public init(cluster: Cluster, node: NodeConfig) {
        self.init(parts: cluster.services.lazy.map { Self.part(of: $0, slices: cluster.slices[$0.id] ?? []) }, node: node)
    }

    /// The union of Services' parts (`apply --follow` keeps them per Service).
    public init(parts: some Sequence<Part>, node: NodeConfig) {
        nodePortAddresses = Set(
            IPFamily.allCases.flatMap { BaseChains.nodePortIPElements(node, family: $0) }.compactMap { element in
                if case .address(let ip)? = element.key.first { ip } else { nil }
            })
        for part in parts where !part.isEmpty {
            // Two Services claiming one frontend: both Services' endpoints count as live.
            frontends.merge(part.frontends) { $0.union($1) }
            nodePorts.merge(part.nodePorts) { $0.union($1) }
        }
    }

    /// One Service's part: its UDP/SCTP ports' frontends with their serving endpoints
    /// (none for a port without serving endpoints, ExternalName or headless Services).
    public static func part(of service: Service, slices: [EndpointSlice]) -> Part {
        var part = Part()
        guard service.type != .externalName, !service.isHeadless,
            service.ports.contains(where: { protocols.contains($0.protocol) })
        else { return part }
        for family in IPFamily.allCases {
            guard let clusterIP = service.clusterIPs.first(where: { $0.family == family }) else { continue }
            let addresses =
                [clusterIP] + service.externalIPs.filter { $0.family == family }
                + service.loadBalancerIngress.filter { !$0.proxyMode && $0.ip.family == family }.map(\.ip)
            for port in service.ports where protocols.contains(port.protocol) {
                let serving = Set(
                    EndpointSelection.endpoints(for: port, in: slices, family: family).filter { $0.endpoint.serving }.map(\.address))
                guard !serving.isEmpty else { continue }
                for address in addresses {
                    part.frontends[Frontend(address: address, protocol: port.protocol, port: port.port), default: []].formUnion(serving)
                }
                if port.nodePort != 0 {
                    part.nodePorts[NodePort(family: family, protocol: port.protocol, port: port.nodePort), default: []].formUnion(serving)
                }
            }
        }
        return part
    }

    /// Whether a conntrack entry is stale: its original destination is a frontend here
    /// and its reply source (the DNAT target) is not an endpoint serving it.
    public func isStale(protocol: L4Protocol, destination: IPAddress, destinationPort: UInt16, replySource: IPAddress) -> Bool {
        if let serving = frontends[Frontend(address: destination, protocol: `protocol`, port: destinationPort)],
            !serving.contains(replySource)
        {
            return true
        }
        guard nodePortAddresses.isEmpty || nodePortAddresses.contains(destination),
            let serving = nodePorts[NodePort(family: destination.family, protocol: `protocol`, port: destinationPort)]
        else { return false }
        return !serving.contains(replySource)
    }
}
