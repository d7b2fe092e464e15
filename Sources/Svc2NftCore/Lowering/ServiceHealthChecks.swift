/// One Service a cloud load balancer probes on this node: its `healthCheckNodePort` and
/// how many local ready endpoints it has here.
public struct ServiceHealthCheck: Sendable, Hashable {
    public let port: UInt16
    /// Distinct endpoint IPs on this node that are ready (terminating ones do not count,
    /// even when serving: the probe fails so the load balancer drains the node).
    public let localEndpoints: Int

    public init(port: UInt16, localEndpoints: Int) {
        self.port = port
        self.localEndpoints = localEndpoints
    }
}

/// Which Services need a health check port on this node, and what it answers: kube-proxy's
/// `svcPortMap.HealthCheckNodePorts()` and `endpointsMap.LocalReadyEndpoints()`
/// (pkg/proxy/serviceport.go, endpoints.go). Pure: computed from the model after a sync.
public enum ServiceHealthChecks {
    /// kube-proxy's `NeedsHealthCheck`: a LoadBalancer Service with
    /// `externalTrafficPolicy: Local` (the API server assigns `healthCheckNodePort` only
    /// then) and at least one port (kube-proxy keeps the port per Service port).
    public static func needsHealthCheck(_ service: Service) -> Bool {
        service.type == .loadBalancer && service.externalTrafficPolicy == .local && service.healthCheckNodePort != 0
            && !service.ports.isEmpty
    }

    /// Every Service of `services` that needs a health check, with its local ready
    /// endpoint count; `slices` gives a Service's endpoint slices.
    public static func compute(
        _ services: some Sequence<Service>, slices: (ServiceID) -> [EndpointSlice], node: NodeConfig
    ) -> [ServiceID: ServiceHealthCheck] {
        var result: [ServiceID: ServiceHealthCheck] = [:]
        for service in services where needsHealthCheck(service) {
            result[service.id] = ServiceHealthCheck(
                port: service.healthCheckNodePort, localEndpoints: localReadyEndpoints(service, slices(service.id), node: node))
        }
        return result
    }

    public static func compute(_ cluster: Cluster, node: NodeConfig) -> [ServiceID: ServiceHealthCheck] {
        compute(cluster.services, slices: { cluster.slices[$0] ?? [] }, node: node)
    }

    public static func compute(_ store: ClusterStore, node: NodeConfig) -> [ServiceID: ServiceHealthCheck] {
        compute(store.services.values, slices: store.slices(of:), node: node)
    }

    /// kube-proxy counts IPs, not IP and port: a pod behind two Service ports is one
    /// endpoint. Only endpoints a Service port resolves to count, as in its endpoints map.
    static func localReadyEndpoints(_ service: Service, _ slices: [EndpointSlice], node: NodeConfig) -> Int {
        guard let nodeName = node.nodeName else { return 0 }
        var ips: Set<IPAddress> = []
        for family in IPFamily.allCases {
            for port in service.ports {
                for e in EndpointSelection.endpoints(for: port, in: slices, family: family)
                where e.endpoint.ready && e.endpoint.nodeName == nodeName {
                    ips.insert(e.address)
                }
            }
        }
        return ips.count
    }
}
