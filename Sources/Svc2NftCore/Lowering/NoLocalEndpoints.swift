/// kube-proxy's `sync_proxy_rules_no_local_endpoints_total` gauge: Service ports whose
/// `Local` traffic policy finds no endpoint on this node although the Service has usable
/// endpoints elsewhere, so that traffic is dropped (pkg/proxy/nftables/proxier.go,
/// `serviceNoLocalEndpointsTotalInternal` / `...External`). Counted per Service port and
/// IP family, as kube-proxy's per-family proxiers count, with the same `EndpointSelection`
/// that lowering uses.
public struct NoLocalEndpoints: Sendable, Equatable {
    /// `internalTrafficPolicy: Local` (`traffic_policy="internal"`).
    public var `internal` = 0
    /// `externalTrafficPolicy: Local` on an externally reachable Service (`traffic_policy="external"`).
    public var external = 0

    public init(internal: Int = 0, external: Int = 0) {
        self.internal = `internal`
        self.external = external
    }

    public init(_ services: some Sequence<Service>, slices: (ServiceID) -> [EndpointSlice], node: NodeConfig) {
        for service in services where service.internalPolicyLocal || service.externalPolicyLocal {
            // kube-proxy's proxier for a family holds only Services with a ClusterIP of it.
            for family in Set(service.clusterIPs.map(\.family)) {
                for port in service.ports {
                    let endpoints = EndpointSelection.endpoints(for: port, in: slices(service.id), family: family)
                    let selection = EndpointSelection(endpoints: endpoints, service: service, node: node)
                    guard selection.hasAnyEndpoints, selection.local.isEmpty else { continue }
                    if service.internalPolicyLocal { `internal` += 1 }
                    if service.externalPolicyLocal { external += 1 }
                }
            }
        }
    }

    public init(_ store: ClusterStore, node: NodeConfig) {
        self.init(store.services.values, slices: store.slices(of:), node: node)
    }

    public init(_ cluster: Cluster, node: NodeConfig) {
        self.init(cluster.services, slices: { cluster.slices[$0] ?? [] }, node: node)
    }
}
