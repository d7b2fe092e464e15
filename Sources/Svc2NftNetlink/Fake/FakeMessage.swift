import CNftnl
import Svc2NftCore

/// One nf_tables message of a batch, read back with libnftnl into what `NftFake`
/// needs to apply it: which object, of which table, and what it names.
enum FakeMessage {
    case newTable(TableFamily, String)
    case deleteTable(TableFamily, String)
    /// A chain created (`handle` nil) or renamed (its handle and new name).
    case newChain(TableFamily, table: String, name: String, kind: ChainKind, comment: String?, handle: UInt64?)
    case deleteChain(TableFamily, table: String, name: String)
    case newRule(TableFamily, table: String, chain: String, rule: FakeRule)
    /// Every rule of a chain, or of the table when `chain` is nil.
    case flushRules(TableFamily, table: String, chain: String?)
    case newSet(TableFamily, table: String, name: String, definition: SetDefinition, anonymous: Bool)
    case deleteSet(TableFamily, table: String, name: String)
    case newElements(TableFamily, table: String, set: String, elements: [KernelElement])
    /// Elements removed by key; none: the set is flushed.
    case deleteElements(TableFamily, table: String, set: String, keys: [[UInt8]])
    case other(UInt16)

    /// The content messages of `batch` with their sequence numbers, in order.
    static func read(_ batch: FinalizedBatch) -> [(sequence: UInt32, message: FakeMessage)] {
        let bytes = batch.bytes
        var out: [(UInt32, FakeMessage)] = []
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset + 20 <= raw.count {
                let header = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: nlmsghdr.self)
                let length = Int(header.pointee.nlmsg_len)
                guard length >= 16, offset + length <= raw.count else { break }
                let type = header.pointee.nlmsg_type
                if type >> 8 == 10 {  // NFNL_SUBSYS_NFTABLES
                    let family: TableFamily = raw[offset + 16] == 10 ? .ip6 : .ip
                    out.append((header.pointee.nlmsg_seq, decode(UnsafePointer(header), type: UInt32(type & 0xFF), family: family)))
                }
                offset += (length + 3) & ~3
            }
        }
        return out
    }

    static func decode(_ header: UnsafePointer<nlmsghdr>, type: UInt32, family: TableFamily) -> FakeMessage {
        switch type {
        case NFT_MSG_NEWTABLE.rawValue, NFT_MSG_DELTABLE.rawValue:
            let table = nftnl_table_alloc()!
            defer { nftnl_table_free(table) }
            _ = nftnl_table_nlmsg_parse(header, table)
            let name = String(cString: nftnl_table_get_str(table, UInt16(NFTNL_TABLE_NAME.rawValue)))
            return type == NFT_MSG_NEWTABLE.rawValue ? .newTable(family, name) : .deleteTable(family, name)
        case NFT_MSG_NEWCHAIN.rawValue, NFT_MSG_DELCHAIN.rawValue:
            let chain = nftnl_chain_alloc()!
            defer { nftnl_chain_free(chain) }
            _ = nftnl_chain_nlmsg_parse(header, chain)
            let table = String(cString: nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue)))
            let name = String(cString: nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_NAME.rawValue)))
            guard type == NFT_MSG_NEWCHAIN.rawValue else { return .deleteChain(family, table: table, name: name) }
            let handle =
                nftnl_chain_is_set(chain, UInt16(NFTNL_CHAIN_HANDLE.rawValue))
                ? nftnl_chain_get_u64(chain, UInt16(NFTNL_CHAIN_HANDLE.rawValue)) : nil
            let parsed = StateParser.chain(header, table: table)
            return .newChain(family, table: table, name: name, kind: parsed?.1 ?? .regular, comment: parsed?.3, handle: handle)
        case NFT_MSG_NEWRULE.rawValue, NFT_MSG_DELRULE.rawValue:
            let rule = nftnl_rule_alloc()!
            defer { nftnl_rule_free(rule) }
            _ = nftnl_rule_nlmsg_parse(header, rule)
            let table = String(cString: nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue)))
            let chain = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue)).map { String(cString: $0) }
            guard type == NFT_MSG_NEWRULE.rawValue, let chain else { return .flushRules(family, table: table, chain: chain) }
            return .newRule(family, table: table, chain: chain, rule: FakeRule(rule))
        case NFT_MSG_NEWSET.rawValue, NFT_MSG_DELSET.rawValue:
            let set = nftnl_set_alloc()!
            defer { nftnl_set_free(set) }
            _ = nftnl_set_nlmsg_parse(header, set)
            let table = String(cString: nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue)))
            let name = String(cString: nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue)))
            guard type == NFT_MSG_NEWSET.rawValue else { return .deleteSet(family, table: table, name: name) }
            let flags = nftnl_set_get_u32(set, UInt16(NFTNL_SET_FLAGS.rawValue))
            let timeout =
                nftnl_set_is_set(set, UInt16(NFTNL_SET_TIMEOUT.rawValue)) ? nftnl_set_get_u64(set, UInt16(NFTNL_SET_TIMEOUT.rawValue)) : 0
            let definition = SetDefinition(
                flags: flags, keyType: nftnl_set_get_u32(set, UInt16(NFTNL_SET_KEY_TYPE.rawValue)),
                keyLength: nftnl_set_get_u32(set, UInt16(NFTNL_SET_KEY_LEN.rawValue)), isVerdictMap: flags & K.u32(NFT_SET_MAP) != 0,
                timeoutMilliseconds: timeout)
            return .newSet(family, table: table, name: name, definition: definition, anonymous: flags & K.u32(NFT_SET_ANONYMOUS) != 0)
        case NFT_MSG_NEWSETELEM.rawValue, NFT_MSG_DELSETELEM.rawValue:
            let set = nftnl_set_alloc()!
            defer { nftnl_set_free(set) }
            _ = nftnl_set_elems_nlmsg_parse(header, set)
            let table = String(cString: nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue)))
            let name = String(cString: nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue)))
            let elements = elementsOfRequest(header)
            return type == NFT_MSG_NEWSETELEM.rawValue
                ? .newElements(family, table: table, set: name, elements: elements)
                : .deleteElements(family, table: table, set: name, keys: elements.map(\.key))
        default:
            return .other(UInt16(type))
        }
    }
}

extension FakeMessage {
    /// The elements of a set-element *request*. libnftnl (1.2) numbers the nested
    /// elements of a request 1, 2, 3, … (the kernel ignores the type), but its parser
    /// accepts only NFTA_LIST_ELEM (1), as in the kernel's dumps; so the copy it parses
    /// has every element's type set to 1.
    static func elementsOfRequest(_ header: UnsafePointer<nlmsghdr>) -> [KernelElement] {
        let length = Int(header.pointee.nlmsg_len)
        var bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(header), count: length))
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        var offset = 20  // nlmsghdr + nfgenmsg
        while offset + 4 <= length {
            let size = u16(offset), type = u16(offset + 2) & 0x3FFF
            guard size >= 4 else { break }
            if type == Int(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue) {
                var inner = offset + 4
                while inner + 4 <= offset + size {
                    let innerSize = u16(inner)
                    guard innerSize >= 4 else { break }
                    bytes[inner + 2] = 1
                    bytes[inner + 3] &= 0xC0
                    inner += (innerSize + 3) & ~3
                }
            }
            offset += (size + 3) & ~3
        }
        return bytes.withUnsafeBytes { StateParser.elements($0.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)) }
    }
}

/// A rule as `NftFake` keeps it: the chains its verdicts name, the named sets it looks
/// up or updates, and libnftnl's text of it (what `diff` compares).
struct FakeRule: Equatable {
    var chains: [String] = []
    var sets: [String] = []
    var text: String

    init(chains: [String], sets: [String], text: String) {
        self.chains = chains
        self.sets = sets
        self.text = text
    }

    init(_ rule: OpaquePointer) {
        text = LiveTable.render(rule)
        guard let iterator = nftnl_expr_iter_create(rule) else { return }
        defer { nftnl_expr_iter_destroy(iterator) }
        while let expr = nftnl_expr_iter_next(iterator) {
            let name = String(cString: nftnl_expr_get_str(expr, UInt16(NFTNL_EXPR_NAME)))
            switch name {
            case "immediate":
                if nftnl_expr_is_set(expr, UInt16(NFTNL_EXPR_IMM_CHAIN)) {
                    chains.append(String(cString: nftnl_expr_get_str(expr, UInt16(NFTNL_EXPR_IMM_CHAIN))))
                }
            case "lookup":
                sets.append(String(cString: nftnl_expr_get_str(expr, UInt16(NFTNL_EXPR_LOOKUP_SET))))
            case "dynset":
                sets.append(String(cString: nftnl_expr_get_str(expr, UInt16(NFTNL_EXPR_DYNSET_SET_NAME))))
            default: break
            }
        }
    }
}
