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
    /// A named set, or an anonymous one (`definition` nil: it lives and dies with its rule).
    case newSet(TableFamily, table: String, name: String, definition: SetDefinition?)
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
            let name = read(header, nftnl_table_alloc, nftnl_table_free, nftnl_table_nlmsg_parse) {
                nftnl_table_get_str($0, UInt16(NFTNL_TABLE_NAME.rawValue))
            }
            return type == NFT_MSG_NEWTABLE.rawValue ? .newTable(family, name ?? "") : .deleteTable(family, name ?? "")
        case NFT_MSG_NEWCHAIN.rawValue, NFT_MSG_DELCHAIN.rawValue:
            let table = read(header, nftnl_chain_alloc, nftnl_chain_free, nftnl_chain_nlmsg_parse) {
                nftnl_chain_get_str($0, UInt16(NFTNL_CHAIN_TABLE.rawValue))
            } ?? ""
            guard let (name, kind, handle, comment) = StateParser.chain(header, table: table) else { return .other(UInt16(type)) }
            guard type == NFT_MSG_NEWCHAIN.rawValue else { return .deleteChain(family, table: table, name: name) }
            // A create carries no handle (libnftnl reads it as 0); a rename carries the old chain's.
            return .newChain(family, table: table, name: name, kind: kind, comment: comment, handle: handle == 0 ? nil : handle)
        case NFT_MSG_NEWRULE.rawValue, NFT_MSG_DELRULE.rawValue:
            let rule = nftnl_rule_alloc()!
            defer { nftnl_rule_free(rule) }
            _ = nftnl_rule_nlmsg_parse(header, rule)
            let table = String(cString: nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue)))
            let chain = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue)).map { String(cString: $0) }
            guard type == NFT_MSG_NEWRULE.rawValue, let chain else { return .flushRules(family, table: table, chain: chain) }
            return .newRule(family, table: table, chain: chain, rule: FakeRule(rule))
        case NFT_MSG_NEWSET.rawValue, NFT_MSG_DELSET.rawValue:
            let (table, name) = setNames(header, parse: nftnl_set_nlmsg_parse)
            guard type == NFT_MSG_NEWSET.rawValue else { return .deleteSet(family, table: table, name: name) }
            // StateParser leaves anonymous sets out, as in a dump: they live and die with their rule.
            guard let (_, definition) = StateParser.set(header, table: table) else {
                return .newSet(family, table: table, name: name, definition: nil)
            }
            return .newSet(family, table: table, name: name, definition: definition)
        case NFT_MSG_NEWSETELEM.rawValue, NFT_MSG_DELSETELEM.rawValue:
            return withElementListAsDumped(header) { header in
                let (table, name) = setNames(header, parse: nftnl_set_elems_nlmsg_parse)
                let elements = StateParser.elements(header)
                return type == NFT_MSG_NEWSETELEM.rawValue
                    ? .newElements(family, table: table, set: name, elements: elements)
                    : .deleteElements(family, table: table, set: name, keys: elements.map(\.key))
            }
        default:
            return .other(UInt16(type))
        }
    }

    /// One string attribute of a libnftnl object parsed from `header`.
    static func read(
        _ header: UnsafePointer<nlmsghdr>, _ alloc: () -> OpaquePointer?, _ free: (OpaquePointer?) -> Void,
        _ parse: (UnsafePointer<nlmsghdr>?, OpaquePointer?) -> Int32, _ get: (OpaquePointer?) -> UnsafePointer<CChar>?
    ) -> String? {
        guard let object = alloc() else { return nil }
        defer { free(object) }
        guard parse(header, object) >= 0 else { return nil }
        return get(object).map { String(cString: $0) }
    }

    /// The table and set a set or set-element message names.
    static func setNames(
        _ header: UnsafePointer<nlmsghdr>, parse: (UnsafePointer<nlmsghdr>?, OpaquePointer?) -> Int32
    ) -> (table: String, name: String) {
        let table = read(header, nftnl_set_alloc, nftnl_set_free, parse) { nftnl_set_get_str($0, UInt16(NFTNL_SET_TABLE.rawValue)) }
        let name = read(header, nftnl_set_alloc, nftnl_set_free, parse) { nftnl_set_get_str($0, UInt16(NFTNL_SET_NAME.rawValue)) }
        return (table ?? "", name ?? "")
    }
}

extension FakeMessage {
    /// Runs `body` on a copy of a set-element *request* that libnftnl can parse.
    /// libnftnl (1.2) numbers the nested elements of a request 1, 2, 3, … (the kernel
    /// ignores the type), but its parser accepts only NFTA_LIST_ELEM (1), as in the
    /// kernel's dumps, and fails the whole message otherwise; so in the copy every
    /// element's type is 1.
    static func withElementListAsDumped<T>(_ header: UnsafePointer<nlmsghdr>, _ body: (UnsafePointer<nlmsghdr>) -> T) -> T {
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
        return bytes.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)) }
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
