/// How a Service is exposed (`spec.type`).
public enum ServiceType: String, Sendable, Hashable {
    case clusterIP = "ClusterIP"
    case nodePort = "NodePort"
    case loadBalancer = "LoadBalancer"
    case externalName = "ExternalName"
}

/// `externalTrafficPolicy` / `internalTrafficPolicy`.
public enum TrafficPolicy: String, Sendable, Hashable {
    case cluster = "Cluster"
    case local = "Local"
}

/// `sessionAffinity`: none, or ClientIP with a timeout in seconds (default 10800).
public enum SessionAffinity: Sendable, Hashable {
    case none
    case clientIP(timeoutSeconds: Int)
}

/// What `targetPort` names: a number, or a container port name resolved through the
/// endpoint ports.
public enum TargetPort: Sendable, Hashable {
    case number(UInt16)
    case name(String)
}

/// One entry of `spec.ports`.
public struct ServicePort: Sendable, Hashable {
    /// The port name; empty only for a Service with a single port.
    public let name: String
    public let `protocol`: L4Protocol
    public let port: UInt16
    public let targetPort: TargetPort
    /// 0 when the port has no NodePort.
    public let nodePort: UInt16

    public init(name: String, protocol: L4Protocol, port: UInt16, targetPort: TargetPort, nodePort: UInt16) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
    }

    /// The name used in chain names: the port name, or the number for an unnamed port
    /// (port names always contain a letter, so the two cannot collide).
    public var label: String { name.isEmpty ? String(port) : name }
}

/// A load balancer ingress address (`status.loadBalancer.ingress[].ip`).
public struct LoadBalancerIngress: Sendable, Hashable {
    public let ip: IPAddress
    /// `ipMode: Proxy` means the load balancer proxies itself; no rules for that address.
    public let proxyMode: Bool

    public init(ip: IPAddress, proxyMode: Bool) {
        self.ip = ip
        self.proxyMode = proxyMode
    }
}

/// A validated Service: every address parsed, every port in range, every name a legal
/// Kubernetes name. Only these reach lowering.
public struct Service: Sendable, Hashable {
    public let id: ServiceID
    public let type: ServiceType
    /// `clusterIPs` (or `clusterIP`); empty for headless and ExternalName Services.
    public let clusterIPs: [IPAddress]
    public let isHeadless: Bool
    public let ports: [ServicePort]
    public let externalIPs: [IPAddress]
    public let loadBalancerIngress: [LoadBalancerIngress]
    public let loadBalancerSourceRanges: [CIDR]
    public let externalTrafficPolicy: TrafficPolicy
    public let internalTrafficPolicy: TrafficPolicy
    public let sessionAffinity: SessionAffinity
    public let healthCheckNodePort: UInt16
    public let externalName: String?
    /// Where the object was read from, for messages.
    public let source: Location

    public init(
        id: ServiceID, type: ServiceType, clusterIPs: [IPAddress], isHeadless: Bool, ports: [ServicePort],
        externalIPs: [IPAddress], loadBalancerIngress: [LoadBalancerIngress], loadBalancerSourceRanges: [CIDR],
        externalTrafficPolicy: TrafficPolicy, internalTrafficPolicy: TrafficPolicy, sessionAffinity: SessionAffinity,
        healthCheckNodePort: UInt16, externalName: String?, source: Location
    ) {
        self.id = id
        self.type = type
        self.clusterIPs = clusterIPs
        self.isHeadless = isHeadless
        self.ports = ports
        self.externalIPs = externalIPs
        self.loadBalancerIngress = loadBalancerIngress
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
        self.sessionAffinity = sessionAffinity
        self.healthCheckNodePort = healthCheckNodePort
        self.externalName = externalName
        self.source = source
    }

    /// kube-proxy's `ExternallyAccessible`: reachable through NodePort, LoadBalancer or
    /// external IPs.
    public var isExternallyAccessible: Bool {
        type == .nodePort || type == .loadBalancer || !externalIPs.isEmpty
    }

    /// kube-proxy's `ExternalPolicyLocal`: Local only matters for externally reachable Services.
    public var externalPolicyLocal: Bool { isExternallyAccessible && externalTrafficPolicy == .local }
    public var internalPolicyLocal: Bool { internalTrafficPolicy == .local }
}
