/// The nft data types of set keys.
public enum KeyType: String, Hashable, Sendable {
    case ipv4Address = "ipv4_addr"
    case ipv6Address = "ipv6_addr"
    case inetProtocol = "inet_proto"
    case inetService = "inet_service"

    public static func address(_ family: IPFamily) -> KeyType { family == .v4 ? .ipv4Address : .ipv6Address }
}

/// One component of an element key.
public enum KeyValue: Hashable, Sendable, Comparable {
    case address(IPAddress)
    case proto(L4Protocol)
    case port(UInt16)

    public static func < (a: KeyValue, b: KeyValue) -> Bool {
        switch (a, b) {
        case (.address(let x), .address(let y)): x < y
        case (.proto(let x), .proto(let y)): x < y
        case (.port(let x), .port(let y)): x < y
        default: a.rank < b.rank
        }
    }

    private var rank: Int {
        switch self {
        case .address: 0
        case .proto: 1
        case .port: 2
        }
    }
}

/// A set element, or a map element when `verdict` is set.
public struct SetElement: Hashable, Sendable {
    public let key: [KeyValue]
    public let verdict: Verdict?

    public init(key: [KeyValue], verdict: Verdict? = nil) {
        self.key = key
        self.verdict = verdict
    }

    static func keyOrder(_ a: SetElement, _ b: SetElement) -> Bool { a.key.lexicographicallyPrecedes(b.key) }
}

/// A named set or verdict map, with its elements sorted by key.
public struct NamedSet: Hashable, Sendable {
    public let name: SetName
    public let keyType: [KeyType]
    public let isVerdictMap: Bool
    /// Dynamic set with per-element timeout (session affinity), in seconds.
    public let timeoutSeconds: Int?
    public var comment: Comment?
    public var elements: [SetElement]
    public let owner: Owner?

    public init(
        name: SetName, keyType: [KeyType], isVerdictMap: Bool, timeoutSeconds: Int? = nil,
        comment: String? = nil, elements: [SetElement] = [], owner: Owner? = nil
    ) {
        self.name = name
        self.keyType = keyType
        self.isVerdictMap = isVerdictMap
        self.timeoutSeconds = timeoutSeconds
        self.comment = comment.map(Comment.init)
        self.elements = elements.sorted(by: SetElement.keyOrder)
        self.owner = owner
    }

    /// Size nft gives a dynamic set when none is declared; stated so listings match.
    public static let dynamicSize = 65535

    /// The same set, empty.
    public var withoutElements: NamedSet {
        var copy = self
        copy.elements = []
        return copy
    }

    /// Sets whose contents are fixed by their name (per-Service, content-versioned):
    /// `apply` never refills them.
    public var isImmutable: Bool { owner != nil }
}
