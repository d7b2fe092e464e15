import CNftnl
import Svc2NftCore

/// What one of our tables holds in the kernel, as far as `apply` needs to know: which
/// chains exist (and how base chains are hooked), how each set is defined, and the
/// elements of each set that is not dynamic (the shared maps). Read with netlink dumps
/// before planning (`KernelStateDiff`); rules are not read.
public struct TableState: Equatable, Sendable {
    public var chains: [String: ChainKind]
    public var sets: [String: SetDefinition]
    /// Chain handles, which a rename needs.
    public var handles: [String: UInt64]
    /// Chain comments (a rename keeps the old one: the kernel does not update them).
    public var comments: [String: String]
    /// Elements of the sets that are not dynamic; a set missing here was not read (its
    /// elements are replaced whole).
    public var elements: [String: [KernelElement]]

    public init(
        chains: [String: ChainKind] = [:], sets: [String: SetDefinition] = [:], handles: [String: UInt64] = [:],
        comments: [String: String] = [:], elements: [String: [KernelElement]] = [:]
    ) {
        self.chains = chains
        self.sets = sets
        self.handles = handles
        self.comments = comments
        self.elements = elements
    }
}

/// The parts of a set that cannot change in place: if any differ, `apply` deletes the
/// set and creates it anew in the same batch.
public struct SetDefinition: Equatable, Sendable {
    public let flags: UInt32
    public let keyType: UInt32
    public let keyLength: UInt32
    public let isVerdictMap: Bool
    public let timeoutMilliseconds: UInt64

    public init(flags: UInt32, keyType: UInt32, keyLength: UInt32, isVerdictMap: Bool, timeoutMilliseconds: UInt64) {
        self.flags = flags
        self.keyType = keyType
        self.keyLength = keyLength
        self.isVerdictMap = isVerdictMap
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// The definition `GraphEncoder` gives a graph set.
    public init(_ set: NamedSet) {
        var flags: UInt32 = set.isVerdictMap ? K.u32(NFT_SET_MAP) : 0
        if set.timeoutSeconds != nil { flags |= K.u32(NFT_SET_TIMEOUT) | K.u32(NFT_SET_EVAL) }
        self.init(
            flags: flags, keyType: set.keyType.reduce(UInt32(0)) { $0 << 6 | K.dataType($1) },
            keyLength: UInt32(set.keyType.map(K.keyLength).reduce(0, +)), isVerdictMap: set.isVerdictMap,
            timeoutMilliseconds: UInt64(set.timeoutSeconds ?? 0) * 1000)
    }

    var isDynamic: Bool { timeoutMilliseconds > 0 }
}

/// One set element as the kernel holds it: the key's bytes and, in a verdict map, the
/// verdict code and chain.
public struct KernelElement: Hashable, Sendable {
    public let key: [UInt8]
    public let verdictCode: Int32?
    public let chain: String?

    public init(key: [UInt8], verdictCode: Int32? = nil, chain: String? = nil) {
        self.key = key
        self.verdictCode = verdictCode
        self.chain = chain
    }

    /// The element `ChangeEncoder` would send for `element`.
    public init(_ element: SetElement) {
        let verdict = element.verdict.map(K.verdict)
        self.init(key: K.keyBytes(element.key), verdictCode: verdict?.code, chain: verdict?.chain)
    }

    /// The key as graph values, read by the set's key types; nil when the bytes are not
    /// a key svc2nft writes (someone else added the element).
    func key(as types: [KeyType]) -> [KeyValue]? {
        var values: [KeyValue] = []
        var offset = 0
        for type in types {
            let length = K.keyLength(type)
            guard offset + length <= key.count else { return nil }
            let field = Array(key[offset..<offset + length])
            offset += length
            switch type {
            case .ipv4Address:
                values.append(.address(IPAddress(v4: field.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })))
            case .ipv6Address:
                let high = field[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let low = field[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                values.append(.address(IPAddress(v6: high, low)))
            case .inetProtocol:
                guard let proto = L4Protocol.allCases.first(where: { $0.number == field[0] }) else { return nil }
                values.append(.proto(proto))
            case .inetService:
                values.append(.port(UInt16(field[0]) << 8 | UInt16(field[1])))
            }
        }
        guard offset == key.count, K.keyBytes(values) == key else { return nil }
        return values
    }
}
