/// A kind of object svc2nft lists and watches, with the selectors kube-proxy uses.
public struct Resource: Sendable, Hashable, CustomStringConvertible {
    /// The object kind, as the store knows it (`Service`).
    public let kind: String
    /// The collection's path (`/api/v1/services`).
    public let path: String
    public let labelSelector: String?
    public let fieldSelector: String?
    /// Served only by newer API servers: a 404 on the list means "none", not a failure.
    public let optional: Bool

    public init(kind: String, path: String, labelSelector: String? = nil, fieldSelector: String? = nil, optional: Bool = false) {
        self.kind = kind
        self.path = path
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.optional = optional
    }

    /// kube-proxy's selector for Services and EndpointSlices: objects another proxy
    /// serves (`service.kubernetes.io/service-proxy-name`) and headless Services'
    /// slices (`service.kubernetes.io/headless`) are not ours.
    public static let proxySelector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"

    public static let services = Resource(kind: "Service", path: "/api/v1/services", labelSelector: proxySelector)
    public static let endpointSlices = Resource(
        kind: "EndpointSlice", path: "/apis/discovery.k8s.io/v1/endpointslices", labelSelector: proxySelector)

    /// The cluster's Service CIDRs (networking.k8s.io/v1, Kubernetes 1.33+).
    public static let serviceCIDRs = Resource(kind: "ServiceCIDR", path: "/apis/networking.k8s.io/v1/servicecidrs", optional: true)

    /// This node's Node object only.
    public static func node(named name: String) -> Resource {
        Resource(kind: "Node", path: "/api/v1/nodes", fieldSelector: "metadata.name=\(name)")
    }

    /// The query of a list or watch request, selectors first.
    func query(_ extra: [(String, String)]) -> [(String, String)] {
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        return query + extra
    }

    public var description: String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
