/// One endpoint of one Service port: where to DNAT to, and its conditions.
public struct PortEndpoint: Hashable, Sendable, Comparable {
    public let address: IPAddress
    public let port: UInt16
    public let endpoint: Endpoint

    public init(address: IPAddress, port: UInt16, endpoint: Endpoint) {
        self.address = address
        self.port = port
        self.endpoint = endpoint
    }

    public static func < (a: PortEndpoint, b: PortEndpoint) -> Bool { (a.address, a.port) < (b.address, b.port) }
}

/// The endpoints each traffic policy of a Service port uses: kube-proxy's
/// `CategorizeEndpoints` (pkg/proxy/topology.go, Kubernetes 1.33), including the
/// fallback to serving-terminating endpoints and topology hints.
public struct EndpointSelection: Sendable, Equatable {
    public var cluster: [PortEndpoint] = []
    public var local: [PortEndpoint] = []
    /// Every endpoint some policy may send to; each gets an endpoint chain.
    public var allReachable: [PortEndpoint] = []
    public var usedTopology = false
    public var clusterUsesTerminating = false
    public var localUsesTerminating = false

    /// kube-proxy's `hasAnyEndpoints`: usable endpoints exist somewhere in the cluster,
    /// even if no policy of this node may use them (then traffic is dropped, not rejected).
    public var hasAnyEndpoints = false

    /// kube-proxy's `UsesClusterEndpoints`: Cluster internal policy, or externally reachable
    /// at all (short-circuited pod and node traffic needs cluster endpoints).
    public static func usesClusterEndpoints(_ service: Service) -> Bool {
        !service.internalPolicyLocal || service.isExternallyAccessible
    }

    /// kube-proxy's `UsesLocalEndpoints`.
    public static func usesLocalEndpoints(_ service: Service) -> Bool {
        service.internalPolicyLocal || service.externalPolicyLocal
    }

    public init(endpoints: [PortEndpoint], service: Service, node: NodeConfig) {
        func isLocal(_ e: PortEndpoint) -> Bool { node.nodeName != nil && e.endpoint.nodeName == node.nodeName }
        func servingTerminating(_ e: PortEndpoint) -> Bool { e.endpoint.serving && e.endpoint.terminating }

        if Self.usesClusterEndpoints(service) {
            usedTopology = Self.canUseTopology(endpoints, zone: node.nodeZone)
            cluster = endpoints.filter { e in
                e.endpoint.ready && (!usedTopology || e.endpoint.zoneHints.contains(node.nodeZone ?? ""))
            }
            if cluster.isEmpty {
                cluster = endpoints.filter(servingTerminating)
                clusterUsesTerminating = !cluster.isEmpty
            }
            hasAnyEndpoints = !cluster.isEmpty
        }
        guard Self.usesLocalEndpoints(service) else {
            allReachable = cluster
            return
        }
        if endpoints.contains(where: { $0.endpoint.ready || servingTerminating($0) }) {
            hasAnyEndpoints = true
        }
        if endpoints.contains(where: { isLocal($0) && $0.endpoint.ready }) {
            local = endpoints.filter { isLocal($0) && $0.endpoint.ready }
        } else if endpoints.contains(where: { isLocal($0) && servingTerminating($0) }) {
            local = endpoints.filter { isLocal($0) && servingTerminating($0) }
            localUsesTerminating = true
        }
        guard Self.usesClusterEndpoints(service) else {
            allReachable = local
            return
        }
        if !usedTopology && !localUsesTerminating {
            allReachable = cluster  // every ready endpoint, so a superset of the local ones
            return
        }
        allReachable = Array(Set(cluster).union(local)).sorted()
    }

    /// kube-proxy's `canUseTopology`: a zone is known, every ready endpoint has zone hints,
    /// and at least one is hinted for this zone.
    static func canUseTopology(_ endpoints: [PortEndpoint], zone: String?) -> Bool {
        guard let zone, !zone.isEmpty else { return false }
        var hasEndpointForZone = false
        for e in endpoints where e.endpoint.ready {
            if e.endpoint.zoneHints.isEmpty { return false }
            if e.endpoint.zoneHints.contains(zone) { hasEndpointForZone = true }
        }
        return hasEndpointForZone
    }

    /// The endpoints of `slices` for Service port `port`: the slice port with the same name
    /// and protocol gives the target port number (this is how a named `targetPort` is
    /// resolved). Deduplicated by address and port, sorted.
    public static func endpoints(for port: ServicePort, in slices: [EndpointSlice], family: IPFamily) -> [PortEndpoint] {
        var seen: Set<IPAddress> = []
        var result: [PortEndpoint] = []
        for slice in slices.sorted(by: { $0.name < $1.name }) where slice.family == family {
            guard let match = slice.ports.first(where: { $0.name == port.name && $0.protocol == port.protocol }) else { continue }
            for endpoint in slice.endpoints where seen.insert(endpoint.address).inserted {
                result.append(PortEndpoint(address: endpoint.address, port: match.port, endpoint: endpoint))
            }
        }
        return result.sorted()
    }
}
