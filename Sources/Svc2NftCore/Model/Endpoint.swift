/// One endpoint address of an EndpointSlice (or Endpoints subset), with the conditions
/// kube-proxy reads: ready, serving, terminating; and where it runs.
public struct Endpoint: Sendable, Hashable {
    public let address: IPAddress
    public let ready: Bool
    public let serving: Bool
    public let terminating: Bool
    public let nodeName: String?
    public let zoneHints: [String]

    public init(address: IPAddress, ready: Bool, serving: Bool, terminating: Bool, nodeName: String?, zoneHints: [String]) {
        self.address = address
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.nodeName = nodeName
        self.zoneHints = zoneHints
    }
}

/// A named port of an endpoint list: the resolved target port number for the Service
/// port of the same name.
public struct EndpointPort: Sendable, Hashable {
    public let name: String
    public let `protocol`: L4Protocol
    public let port: UInt16

    public init(name: String, protocol: L4Protocol, port: UInt16) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
    }
}

/// A validated EndpointSlice (an `Endpoints` subset is converted to one): endpoints of one
/// address family sharing one list of ports, joined to its Service by name.
public struct EndpointSlice: Sendable, Hashable {
    public let name: String
    public let service: ServiceID
    public let family: IPFamily
    public let ports: [EndpointPort]
    public let endpoints: [Endpoint]
    public let source: Location

    public init(name: String, service: ServiceID, family: IPFamily, ports: [EndpointPort], endpoints: [Endpoint], source: Location) {
        self.name = name
        self.service = service
        self.family = family
        self.ports = ports
        self.endpoints = endpoints
        self.source = source
    }
}
