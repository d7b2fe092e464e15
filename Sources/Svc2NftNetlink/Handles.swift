import CNftnl

// One ~Copyable owner per libnftnl object, freed in deinit. Ownership moves into C where
// libnftnl takes it (`nftnl_rule_add_expr`, `nftnl_set_elem_add`): those methods consume
// the Swift value and `release()` it, so nothing is freed twice.

/// A `struct nftnl_expr`.
struct NftExpr: ~Copyable {
    private(set) var pointer: OpaquePointer?

    init(_ name: String) {
        pointer = nftnl_expr_alloc(name)
        precondition(pointer != nil, "nftnl_expr_alloc(\(name)) failed: out of memory")
    }

    func set(_ attribute: UInt16, u32 value: UInt32) { nftnl_expr_set_u32(pointer, attribute, value) }
    func set(_ attribute: UInt16, s32 value: Int32) { nftnl_expr_set_u32(pointer, attribute, UInt32(bitPattern: value)) }
    func set(_ attribute: UInt16, u8 value: UInt8) { nftnl_expr_set_u8(pointer, attribute, value) }
    func set(_ attribute: UInt16, string value: String) { nftnl_expr_set_str(pointer, attribute, value) }
    func set(_ attribute: UInt16, bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nftnl_expr_set(pointer, attribute, $0.baseAddress, UInt32($0.count)) }
    }

    /// Gives the pointer to a C owner; deinit then frees nothing.
    consuming func release() -> OpaquePointer? {
        let p = pointer
        pointer = nil
        return p
    }

    deinit { if let pointer { nftnl_expr_free(pointer) } }
}

/// A `struct nftnl_rule`.
struct NftRule: ~Copyable {
    let pointer: OpaquePointer?

    /// A rule of `chain`; with no chain, a whole-table rule flush (NFT_MSG_DELRULE).
    init(family: UInt32, table: String, chain: String?) {
        pointer = nftnl_rule_alloc()
        precondition(pointer != nil, "nftnl_rule_alloc failed: out of memory")
        nftnl_rule_set_u32(pointer, UInt16(NFTNL_RULE_FAMILY.rawValue), family)
        nftnl_rule_set_str(pointer, UInt16(NFTNL_RULE_TABLE.rawValue), table)
        if let chain { nftnl_rule_set_str(pointer, UInt16(NFTNL_RULE_CHAIN.rawValue), chain) }
    }

    /// libnftnl owns the expression from here on.
    func add(_ expr: consuming NftExpr) { nftnl_rule_add_expr(pointer, expr.release()) }

    func setUserData(_ data: [UInt8]) {
        data.withUnsafeBytes { _ = nftnl_rule_set_data(pointer, UInt16(NFTNL_RULE_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
    }

    deinit { nftnl_rule_free(pointer) }
}

/// A `struct nftnl_table`.
struct NftTable: ~Copyable {
    let pointer: OpaquePointer?

    init(family: UInt32, name: String) {
        pointer = nftnl_table_alloc()
        precondition(pointer != nil, "nftnl_table_alloc failed: out of memory")
        nftnl_table_set_u32(pointer, UInt16(NFTNL_TABLE_FAMILY.rawValue), family)
        nftnl_table_set_str(pointer, UInt16(NFTNL_TABLE_NAME.rawValue), name)
    }

    func setUserData(_ data: [UInt8]) {
        data.withUnsafeBytes { _ = nftnl_table_set_data(pointer, UInt16(NFTNL_TABLE_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
    }

    deinit { nftnl_table_free(pointer) }
}

/// A `struct nftnl_chain`.
struct NftChain: ~Copyable {
    let pointer: OpaquePointer?

    init(family: UInt32, table: String, name: String) {
        pointer = nftnl_chain_alloc()
        precondition(pointer != nil, "nftnl_chain_alloc failed: out of memory")
        nftnl_chain_set_u32(pointer, UInt16(NFTNL_CHAIN_FAMILY.rawValue), family)
        nftnl_chain_set_str(pointer, UInt16(NFTNL_CHAIN_TABLE.rawValue), table)
        nftnl_chain_set_str(pointer, UInt16(NFTNL_CHAIN_NAME.rawValue), name)
    }

    func setBase(type: String, hook: UInt32, priority: Int32) {
        nftnl_chain_set_str(pointer, UInt16(NFTNL_CHAIN_TYPE.rawValue), type)
        nftnl_chain_set_u32(pointer, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), hook)
        nftnl_chain_set_s32(pointer, UInt16(NFTNL_CHAIN_PRIO.rawValue), priority)
        nftnl_chain_set_u32(pointer, UInt16(NFTNL_CHAIN_POLICY.rawValue), 1 /* NF_ACCEPT */)
    }

    func setHandle(_ handle: UInt64) { nftnl_chain_set_u64(pointer, UInt16(NFTNL_CHAIN_HANDLE.rawValue), handle) }

    func setUserData(_ data: [UInt8]) {
        data.withUnsafeBytes { _ = nftnl_chain_set_data(pointer, UInt16(NFTNL_CHAIN_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
    }

    deinit { nftnl_chain_free(pointer) }
}

/// A `struct nftnl_set`, with the elements added to it.
struct NftSet: ~Copyable {
    let pointer: OpaquePointer?

    init(family: UInt32, table: String, name: String, id: UInt32) {
        pointer = nftnl_set_alloc()
        precondition(pointer != nil, "nftnl_set_alloc failed: out of memory")
        nftnl_set_set_u32(pointer, UInt16(NFTNL_SET_FAMILY.rawValue), family)
        nftnl_set_set_str(pointer, UInt16(NFTNL_SET_TABLE.rawValue), table)
        nftnl_set_set_str(pointer, UInt16(NFTNL_SET_NAME.rawValue), name)
        nftnl_set_set_u32(pointer, UInt16(NFTNL_SET_ID.rawValue), id)
    }

    func set(_ attribute: nftnl_set_attr, u32 value: UInt32) { nftnl_set_set_u32(pointer, UInt16(attribute.rawValue), value) }
    func set(_ attribute: nftnl_set_attr, u64 value: UInt64) { nftnl_set_set_u64(pointer, UInt16(attribute.rawValue), value) }

    func setUserData(_ data: [UInt8]) {
        data.withUnsafeBytes { _ = nftnl_set_set_data(pointer, UInt16(NFTNL_SET_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
    }

    /// Adds one element; libnftnl owns it from here on.
    func addElement(key: [UInt8], verdict: (code: Int32, chain: String?)? = nil, flags: UInt32 = 0) {
        guard let element = nftnl_set_elem_alloc() else { preconditionFailure("nftnl_set_elem_alloc failed: out of memory") }
        key.withUnsafeBytes { _ = nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
        if let verdict {
            nftnl_set_elem_set_u32(element, UInt16(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: verdict.code))
            if let chain = verdict.chain { nftnl_set_elem_set_str(element, UInt16(NFTNL_SET_ELEM_CHAIN), chain) }
        }
        if flags != 0 { nftnl_set_elem_set_u32(element, UInt16(NFTNL_SET_ELEM_FLAGS), flags) }
        nftnl_set_elem_add(pointer, element)
    }

    deinit { nftnl_set_free(pointer) }
}

/// nft's user-data TLVs (comments, set key byte order): type byte, length byte, value.
/// Built in Swift; the layout is libnftnl's `nftnl_udata` (udata.h).
struct UserData {
    private(set) var bytes: [UInt8] = []

    mutating func put(_ type: UInt8, string: String) {
        let value = Array(string.utf8) + [0]
        bytes += [type, UInt8(value.count)] + value
    }

    mutating func put(_ type: UInt8, u32 value: UInt32) {
        bytes += [type, 4] + withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// The comment (type 0, NUL-terminated) of user data as nft and svc2nft write it.
    static func comment(in bytes: [UInt8]) -> String? {
        var offset = 0
        while offset + 2 <= bytes.count {
            let type = bytes[offset], length = Int(bytes[offset + 1])
            guard offset + 2 + length <= bytes.count else { return nil }
            if type == 0 {
                let value = bytes[(offset + 2)..<(offset + 2 + length)]
                return String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
            }
            offset += 2 + length
        }
        return nil
    }
}
