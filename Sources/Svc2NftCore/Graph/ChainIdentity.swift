/// What a chain or set name says, built and parsed in this one place (no other code
/// reads names back with prefixes or patterns):
/// - a Service port's chains and sets: `role-namespace/name/protocol/port`, for an
///   endpoint also `__address/port`, e.g. `ep-shop/web/tcp/http__10.244.1.5/8080`, for
///   a group of a large endpoint pick `/pick<level>-<index>`, e.g.
///   `svc-shop/web/tcp/http/pick1-0` (`Versioning.policyChain`);
/// - fixed chains and sets keep kube-proxy's names (`services`, `service-ips`);
/// - either may end in a content version (`Version`): `svc-shop/web/tcp/http_k3jd7x2a`.
/// Two names with the same identity and different versions are versions of one chain.
public struct ChainIdentity: Hashable, Sendable, CustomStringConvertible {
    /// What a per-Service chain or set is for (the name's prefix).
    public enum Role: String, Hashable, Sendable, CaseIterable {
        /// Cluster-policy endpoint pick.
        case service = "svc"
        /// Node-local endpoint pick (traffic policy Local).
        case local
        /// NodePort, LoadBalancer and external IP traffic.
        case external = "ext"
        /// loadBalancerSourceRanges.
        case firewall = "fw"
        /// One endpoint: DNAT.
        case endpoint = "ep"
        /// One endpoint's session-affinity set.
        case affinity = "aff"
    }

    /// Whose name it is.
    public enum Kind: Hashable, Sendable {
        /// A fixed chain or set (`services`, `cluster-ips-check`).
        case fixed(String)
        /// A Service port's chain or set, for one endpoint or for the port.
        case servicePort(Role, ServicePortName, endpoint: EndpointName?)
        /// One group of a policy chain's endpoint pick.
        case pickGroup(Role, ServicePortName, PickGroup)
    }

    /// Which group of a large endpoint pick: level 1 groups endpoints, level 2 groups
    /// level-1 groups, and so on; `index` counts from 0 within a level.
    public struct PickGroup: Hashable, Sendable {
        public let level: Int
        public let index: Int

        public init(level: Int, index: Int) {
            self.level = level
            self.index = index
        }

        /// `pick1-0`
        var text: String { "pick\(level)-\(index)" }

        init?(parsing text: Substring) {
            guard text.hasPrefix("pick"), let dash = text.firstIndex(of: "-"), let level = Int(text[text.index(text.startIndex, offsetBy: 4)..<dash]),
                let index = Int(text[text.index(after: dash)...])
            else { return nil }
            self.init(level: level, index: index)
        }
    }

    public let kind: Kind
    public let version: Version?

    public init(_ kind: Kind, version: Version? = nil) {
        self.kind = kind
        self.version = version
    }

    /// A Service port's chain or set, unversioned.
    public init(_ role: Role, _ port: ServicePortName, endpoint: EndpointName? = nil) {
        self.init(.servicePort(role, port, endpoint: endpoint))
    }

    /// Reads a name back; nil for a name svc2nft does not build (another tool's, or one
    /// shortened with a hash past the length limit).
    public init?(parsing name: String) {
        let (base, suffix) = Version.split(name)
        version = suffix
        guard let dash = base.firstIndex(of: "-"), let role = Role(rawValue: String(base[..<dash])) else {
            guard NftIdentifier.isIdentifier(String(base)) else { return nil }
            kind = .fixed(String(base))
            return
        }
        var rest = base[base.index(after: dash)...]
        if let slash = rest.lastIndex(of: "/"), let group = PickGroup(parsing: rest[rest.index(after: slash)...]) {
            rest = rest[..<slash]
            guard !rest.contains("__"), let port = ServicePortName(parsing: String(rest)) else { return nil }
            kind = .pickGroup(role, port, group)
            return
        }
        let halves = rest.components(separatedBy: "__")
        guard halves.count <= 2, let port = ServicePortName(parsing: halves[0]) else { return nil }
        var endpoint: EndpointName? = nil
        if halves.count == 2 {
            guard let parsed = EndpointName(parsing: halves[1]) else { return nil }
            endpoint = parsed
        }
        kind = .servicePort(role, port, endpoint: endpoint)
    }

    /// The name without its version.
    public var unversioned: String {
        switch kind {
        case .fixed(let name): name
        case .servicePort(let role, let port, let endpoint):
            "\(role.rawValue)-\(port.text)" + (endpoint.map { "__\($0.text)" } ?? "")
        case .pickGroup(let role, let port, let group): "\(role.rawValue)-\(port.text)/\(group.text)"
        }
    }

    /// The full name: unversioned, then `_` and the version if there is one.
    public var description: String { version.map { "\(unversioned)_\($0.text)" } ?? unversioned }

    /// This identity with `version`.
    public func versioned(_ version: Version) -> ChainIdentity { ChainIdentity(kind, version: version) }

    public var role: Role? {
        switch kind {
        case .servicePort(let role, _, _), .pickGroup(let role, _, _): role
        case .fixed: nil
        }
    }

    public var servicePort: ServicePortName? {
        switch kind {
        case .servicePort(_, let port, _), .pickGroup(_, let port, _): port
        case .fixed: nil
        }
    }

    /// The pick group this chain is, if it is one.
    public var pickGroup: PickGroup? {
        if case .pickGroup(_, _, let group) = kind { return group }
        return nil
    }

    /// The unversioned name of a policy chain's pick group (`policy` is the policy
    /// chain's unversioned name).
    public static func pickGroupName(policy: String, _ group: PickGroup) -> String { "\(policy)/\(group.text)" }

    public var endpoint: EndpointName? {
        if case .servicePort(_, _, let endpoint) = kind { return endpoint }
        return nil
    }

    /// The unversioned name of a Service port's chain or set, as lowering builds it
    /// (`portText` is `ServicePortName.text`, built once per port).
    public static func unversionedName(_ role: Role, portText: String, endpoint: EndpointName? = nil) -> String {
        var name = role.rawValue
        name.append("-")
        name.append(portText)
        if let endpoint {
            name.append("__")
            name.append(endpoint.text)
        }
        return name
    }

    /// The Service port that owns the named object, for error messages.
    public var owner: Owner? { servicePort?.owner }

    /// The content version at the end of a name: `_` and 8 base32 characters
    /// (`Fingerprint`), the only suffix svc2nft writes.
    public struct Version: Hashable, Sendable {
        public let text: String

        public init?(_ text: String) {
            guard text.utf8.count == 8, text.utf8.allSatisfy(Self.isDigit) else { return nil }
            self.text = text
        }

        static func isDigit(_ byte: UInt8) -> Bool { (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x32 && byte <= 0x37) }

        /// `base` with the version `fingerprint` (`Fingerprint.text`): how lowering names
        /// content-versioned chains and sets.
        static func name(_ base: String, _ fingerprint: String) -> String {
            var name = base
            name.append("_")
            name.append(fingerprint)
            return name
        }

        /// A name's base and version (nil when it has none).
        public static func split(_ name: String) -> (base: Substring, version: Version?) {
            let bytes = name.utf8
            guard bytes.count > 9 else { return (name[...], nil) }
            let suffix = bytes.suffix(9)
            guard suffix.first == UInt8(ascii: "_"), suffix.dropFirst().allSatisfy(isDigit) else { return (name[...], nil) }
            return (name.dropLast(9), Version(String(name.suffix(8))))
        }
    }
}

/// The readable core of a Service port's names: `namespace/name/protocol/port`.
public struct ServicePortName: Hashable, Sendable, Comparable {
    /// The Service and its port's name (or number).
    public let owner: Owner
    public let protocolName: String

    public init(service: ServiceID, protocolName: String, port: String) {
        owner = Owner(service: service, port: port)
        self.protocolName = protocolName
    }

    public var service: ServiceID { owner.service }
    public var port: String { owner.port }

    init?(parsing text: String) {
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count == 4, !pieces.contains(where: \.isEmpty) else { return nil }
        self.init(
            service: ServiceID(namespace: String(pieces[0]), name: String(pieces[1])), protocolName: String(pieces[2]),
            port: String(pieces[3]))
    }

    public var text: String { "\(service.namespace)/\(service.name)/\(protocolName)/\(port)" }
    /// "shop/web:http (tcp)"
    public var readable: String { "\(service.namespace)/\(service.name):\(port) (\(protocolName))" }
    public static func < (a: ServicePortName, b: ServicePortName) -> Bool { a.text < b.text }
}

/// An endpoint in a name: `address/port`, IPv6 colons written as dots (nft accepts no
/// quoted chain names).
public struct EndpointName: Hashable, Sendable, Comparable {
    /// `10.244.1.5/8080`, `fd00.10.244..5/8080`
    public let text: String

    public init(address: IPAddress, port: Int) {
        text = "\(address.identifierText)/\(port)"
    }

    init?(parsing text: String) {
        guard let slash = text.lastIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex else { return nil }
        self.text = text
    }

    /// "10.244.1.5:8080", "[fd00::5]:8080"
    public var readable: String {
        let slash = text.lastIndex(of: "/")!
        let address = String(text[..<slash]), port = text[text.index(after: slash)...]
        return IPAddress(address)?.family == .v4 ? "\(address):\(port)" : "[\(address.replacingOccurrences(of: ".", with: ":"))]:\(port)"
    }

    public static func < (a: EndpointName, b: EndpointName) -> Bool { a.text < b.text }
}

extension ObjectName {
    /// The name without its content version (`ChainIdentity.Version`):
    /// `svc-shop/web/tcp/http_k3jd7x2a` gives `svc-shop/web/tcp/http`. Two chains with
    /// the same unversioned name are versions of one chain (`ChainPairing`).
    public var unversioned: Substring { ChainIdentity.Version.split(text).base }

    /// What the name says (nil for a name svc2nft does not build).
    public var identity: ChainIdentity? { ChainIdentity(parsing: text) }
}
