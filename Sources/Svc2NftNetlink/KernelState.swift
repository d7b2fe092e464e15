import CNftnl
import Svc2NftCore

/// What one of our tables holds in the kernel, as far as `apply` needs to know: which
/// chains exist (and how base chains are hooked) and how each set is defined. Read with
/// a netlink dump before building the batch.
public struct TableState: Equatable, Sendable {
    public var chains: [String: ChainKind]
    public var sets: [String: SetDefinition]
    /// Chain handles, which a rename needs.
    public var handles: [String: UInt64]
    /// Chain comments (a rename keeps the old one: the kernel does not update them).
    public var comments: [String: String]

    public init(
        chains: [String: ChainKind] = [:], sets: [String: SetDefinition] = [:], handles: [String: UInt64] = [:],
        comments: [String: String] = [:]
    ) {
        self.chains = chains
        self.sets = sets
        self.handles = handles
        self.comments = comments
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

/// Reads chain and set messages of a dump into a `TableState`.
enum StateParser {
    static let hooks: [UInt32: Hook] = [0: .prerouting, 1: .input, 2: .forward, 3: .output, 4: .postrouting]

    static func chain(_ header: UnsafePointer<nlmsghdr>, table: String) -> (String, ChainKind, UInt64, String?)? {
        guard let chain = nftnl_chain_alloc() else { return nil }
        defer { nftnl_chain_free(chain) }
        guard nftnl_chain_nlmsg_parse(header, chain) >= 0,
            let tableName = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue)), String(cString: tableName) == table,
            let name = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_NAME.rawValue))
        else { return nil }
        var kind = ChainKind.regular
        if nftnl_chain_is_set(chain, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue)),
            let hook = hooks[nftnl_chain_get_u32(chain, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue))],
            let typeName = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_TYPE.rawValue)),
            let type = ChainType(rawValue: String(cString: typeName))
        {
            kind = .base(type, hook, priority: Int(nftnl_chain_get_s32(chain, UInt16(NFTNL_CHAIN_PRIO.rawValue))))
        }
        var comment: String? = nil
        var length: UInt32 = 0
        if let data = nftnl_chain_get_data(chain, UInt16(NFTNL_CHAIN_USERDATA.rawValue), &length) {
            comment = UserData.comment(in: Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
        }
        return (String(cString: name), kind, nftnl_chain_get_u64(chain, UInt16(NFTNL_CHAIN_HANDLE.rawValue)), comment)
    }

    static func set(_ header: UnsafePointer<nlmsghdr>, table: String) -> (String, SetDefinition)? {
        guard let set = nftnl_set_alloc() else { return nil }
        defer { nftnl_set_free(set) }
        guard nftnl_set_nlmsg_parse(header, set) >= 0,
            let tableName = nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue)), String(cString: tableName) == table,
            let name = nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue))
        else { return nil }
        let flags = nftnl_set_get_u32(set, UInt16(NFTNL_SET_FLAGS.rawValue))
        if flags & K.u32(NFT_SET_ANONYMOUS) != 0 { return nil }  // anonymous sets die with their rules
        let timeout =
            nftnl_set_is_set(set, UInt16(NFTNL_SET_TIMEOUT.rawValue)) ? nftnl_set_get_u64(set, UInt16(NFTNL_SET_TIMEOUT.rawValue)) : 0
        return (
            String(cString: name),
            SetDefinition(
                flags: flags, keyType: nftnl_set_get_u32(set, UInt16(NFTNL_SET_KEY_TYPE.rawValue)),
                keyLength: nftnl_set_get_u32(set, UInt16(NFTNL_SET_KEY_LEN.rawValue)),
                isVerdictMap: flags & K.u32(NFT_SET_MAP) != 0, timeoutMilliseconds: timeout)
        )
    }
}
