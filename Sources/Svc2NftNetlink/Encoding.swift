import CNftnl
import Svc2NftCore

/// Numbers from the kernel's nf_tables.h and libnftnl, with the names used below.
enum K {
    static func attr<T: BinaryInteger>(_ value: T) -> UInt16 { UInt16(value) }
    /// C enum constants import as typed enums or as Int, depending on the header.
    static func u32<T: BinaryInteger>(_ value: T) -> UInt32 { UInt32(value) }
    static func u32<T: RawRepresentable>(_ value: T) -> UInt32 where T.RawValue: BinaryInteger { UInt32(value.rawValue) }

    static let regVerdict: UInt32 = 0
    static let reg1: UInt32 = 1
    static let reg2: UInt32 = 2

    static func family(_ family: TableFamily) -> UInt32 { family == .ip ? 2 : 10 }  // NFPROTO_IPV4 / IPV6

    static func verdict(_ verdict: Verdict) -> (code: Int32, chain: String?) {
        switch verdict {
        case .accept: (1, nil)
        case .drop: (0, nil)
        case .return: (-5, nil)
        case .jump(let chain): (-3, chain.text)
        case .goto(let chain): (-4, chain.text)
        }
    }

    static func hook(_ hook: Hook) -> UInt32 {
        switch hook {
        case .prerouting: 0
        case .input: 1
        case .forward: 2
        case .output: 3
        case .postrouting: 4
        }
    }

    // nft datatype ids (nftables datatype.h), 6 bits each in concatenations.
    static func dataType(_ type: KeyType) -> UInt32 {
        switch type {
        case .ipv4Address: 7
        case .ipv6Address: 8
        case .inetProtocol: 12
        case .inetService: 13
        }
    }

    /// Bytes of one key field, padded to 4 as nft lays out concatenations.
    static func keyLength(_ type: KeyType) -> Int { type == .ipv6Address ? 16 : 4 }

    static func hostU32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    static func keyBytes(_ key: [KeyValue]) -> [UInt8] {
        var bytes: [UInt8] = []
        for part in key {
            switch part {
            case .address(let ip): bytes += ip.bytes
            case .proto(let proto): bytes += [proto.number, 0, 0, 0]
            case .port(let port): bytes += [UInt8(port >> 8), UInt8(port & 0xFF), 0, 0]
            }
        }
        return bytes
    }
}

/// Turns one `Expr` into libnftnl expressions exactly as nft 1.0.6 encodes the same
/// text (checked against `nft --debug=netlink`), so `nft list` prints both alike.
/// Anonymous sets an expression needs are added to the batch before its rule.
struct ExprEncoder {
    let family: TableFamily
    let table: String

    var addressLength: UInt32 { family == .ip ? 4 : 16 }

    func addressOffset(_ field: AddressField) -> UInt32 {
        switch (family, field) {
        case (.ip, .source): 12
        case (.ip, .destination): 16
        case (.ip6, .source): 8
        case (.ip6, .destination): 24
        }
    }

    func payload(network offset: UInt32, length: UInt32, into register: UInt32 = K.reg1) -> NftExpr {
        let e = NftExpr("payload")
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_DREG), u32: register)
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_BASE), u32: K.u32(NFT_PAYLOAD_NETWORK_HEADER))
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_OFFSET), u32: offset)
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_LEN), u32: length)
        return e
    }

    func destinationPort(into register: UInt32) -> NftExpr {
        let e = NftExpr("payload")
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_DREG), u32: register)
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_BASE), u32: K.u32(NFT_PAYLOAD_TRANSPORT_HEADER))
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_OFFSET), u32: 2)
        e.set(K.attr(NFTNL_EXPR_PAYLOAD_LEN), u32: 2)
        return e
    }

    func cmp(_ op: nft_cmp_ops, _ data: [UInt8]) -> NftExpr {
        let e = NftExpr("cmp")
        e.set(K.attr(NFTNL_EXPR_CMP_SREG), u32: K.reg1)
        e.set(K.attr(NFTNL_EXPR_CMP_OP), u32: K.u32(op))
        e.set(K.attr(NFTNL_EXPR_CMP_DATA), bytes: data)
        return e
    }

    func meta(_ key: nft_meta_keys, into register: UInt32 = K.reg1) -> NftExpr {
        let e = NftExpr("meta")
        e.set(K.attr(NFTNL_EXPR_META_KEY), u32: K.u32(key))
        e.set(K.attr(NFTNL_EXPR_META_DREG), u32: register)
        return e
    }

    func bitwise(length: UInt32, mask: [UInt8], xor: [UInt8]) -> NftExpr {
        let e = NftExpr("bitwise")
        e.set(K.attr(NFTNL_EXPR_BITWISE_SREG), u32: K.reg1)
        e.set(K.attr(NFTNL_EXPR_BITWISE_DREG), u32: K.reg1)
        e.set(K.attr(NFTNL_EXPR_BITWISE_LEN), u32: length)
        e.set(K.attr(NFTNL_EXPR_BITWISE_MASK), bytes: mask)
        e.set(K.attr(NFTNL_EXPR_BITWISE_XOR), bytes: xor)
        return e
    }

    func lookup(set name: String, id: UInt32?, inverted: Bool = false, verdict: Bool = false) -> NftExpr {
        let e = NftExpr("lookup")
        e.set(K.attr(NFTNL_EXPR_LOOKUP_SREG), u32: K.reg1)
        e.set(K.attr(NFTNL_EXPR_LOOKUP_SET), string: name)
        if let id { e.set(K.attr(NFTNL_EXPR_LOOKUP_SET_ID), u32: id) }
        if verdict { e.set(K.attr(NFTNL_EXPR_LOOKUP_DREG), u32: K.regVerdict) }
        if inverted { e.set(K.attr(NFTNL_EXPR_LOOKUP_FLAGS), u32: K.u32(NFT_LOOKUP_F_INV)) }
        return e
    }

    func immediate(_ verdict: Verdict) -> NftExpr {
        let e = NftExpr("immediate")
        let (code, chain) = K.verdict(verdict)
        e.set(K.attr(NFTNL_EXPR_IMM_DREG), u32: K.regVerdict)
        e.set(K.attr(NFTNL_EXPR_IMM_VERDICT), s32: code)
        if let chain { e.set(K.attr(NFTNL_EXPR_IMM_CHAIN), string: chain) }
        return e
    }

    func immediate(_ data: [UInt8], into register: UInt32) -> NftExpr {
        let e = NftExpr("immediate")
        e.set(K.attr(NFTNL_EXPR_IMM_DREG), u32: register)
        e.set(K.attr(NFTNL_EXPR_IMM_DATA), bytes: data)
        return e
    }

    /// Appends the expressions for `expr` to `rule`; anonymous sets go into `batch` first.
    func encode(_ expr: Expr, into rule: borrowing NftRule, batch: inout Batch, owner: GraphObject) {
        switch expr {
        case .ctStateNew:
            let ct = NftExpr("ct")
            ct.set(K.attr(NFTNL_EXPR_CT_KEY), u32: K.u32(NFT_CT_STATE))
            ct.set(K.attr(NFTNL_EXPR_CT_DREG), u32: K.reg1)
            rule.add(ct)
            rule.add(bitwise(length: 4, mask: K.hostU32(8), xor: K.hostU32(0)))  // NF_CT_STATE_BIT(IP_CT_NEW)
            rule.add(cmp(NFT_CMP_NEQ, K.hostU32(0)))

        case .address(let field, let negated, let operand):
            let op = negated ? NFT_CMP_NEQ : NFT_CMP_EQ
            switch operand {
            case .address(let ip):
                rule.add(payload(network: addressOffset(field), length: addressLength))
                rule.add(cmp(op, ip.bytes))
            case .prefix(let cidr) where cidr.prefixLength == cidr.family.bitWidth:
                rule.add(payload(network: addressOffset(field), length: addressLength))
                rule.add(cmp(op, cidr.address.bytes))
            case .prefix(let cidr) where cidr.prefixLength % 8 == 0 && cidr.prefixLength > 0:
                // A whole-byte prefix: nft loads only the bytes it covers.
                let byteCount = cidr.prefixLength / 8
                rule.add(payload(network: addressOffset(field), length: UInt32(byteCount)))
                rule.add(cmp(op, Array(cidr.address.bytes.prefix(byteCount))))
            case .prefix(let cidr) where cidr.prefixLength > 0:
                // Any other prefix: nft loads the whole address and masks it (10.128.0.0/9:
                // 4 bytes & ff.80.00.00), so `nft list` prints `ip saddr 10.128.0.0/9`.
                let length = Int(addressLength)
                var mask = [UInt8](repeating: 0, count: length)
                for bit in 0..<cidr.prefixLength { mask[bit / 8] |= 0x80 >> UInt8(bit % 8) }
                rule.add(payload(network: addressOffset(field), length: addressLength))
                rule.add(bitwise(length: addressLength, mask: mask, xor: [UInt8](repeating: 0, count: length)))
                rule.add(cmp(op, cidr.address.bytes))
            case .prefix(let cidr):
                encode(.address(field, negated: negated, .prefixes([cidr])), into: rule, batch: &batch, owner: owner)
            case .prefixes(let cidrs):
                let id = IntervalSet.add(cidrs, family: family, table: table, batch: &batch, owner: owner)
                rule.add(payload(network: addressOffset(field), length: addressLength))
                rule.add(lookup(set: "__set%d", id: id, inverted: negated))
            case .named(let set):
                rule.add(payload(network: addressOffset(field), length: addressLength))
                rule.add(lookup(set: set.text, id: nil, inverted: negated))
            }

        case .destinationPort(let proto, let port):
            rule.add(meta(NFT_META_L4PROTO))
            rule.add(cmp(NFT_CMP_EQ, [proto.number]))
            rule.add(destinationPort(into: K.reg1))
            rule.add(cmp(NFT_CMP_EQ, [UInt8(port >> 8), UInt8(port & 0xFF)]))

        case .l4Protocol(let proto):
            rule.add(meta(NFT_META_L4PROTO))
            rule.add(cmp(NFT_CMP_EQ, [proto.number]))

        case .fibLocal(let field):
            let fib = NftExpr("fib")
            fib.set(K.attr(NFTNL_EXPR_FIB_DREG), u32: K.reg1)
            fib.set(K.attr(NFTNL_EXPR_FIB_RESULT), u32: K.u32(NFT_FIB_RESULT_ADDRTYPE))
            fib.set(K.attr(NFTNL_EXPR_FIB_FLAGS), u32: field == .source ? K.u32(NFTA_FIB_F_SADDR) : K.u32(NFTA_FIB_F_DADDR))
            rule.add(fib)
            rule.add(cmp(NFT_CMP_EQ, K.hostU32(2)))  // RTN_LOCAL

        case .markBitClear(let bit):
            rule.add(meta(NFT_META_MARK))
            rule.add(bitwise(length: 4, mask: K.hostU32(bit), xor: K.hostU32(0)))
            rule.add(cmp(NFT_CMP_EQ, K.hostU32(0)))

        case .markSet(let bit), .markToggle(let bit):
            rule.add(meta(NFT_META_MARK))
            if case .markSet = expr {
                rule.add(bitwise(length: 4, mask: K.hostU32(~bit), xor: K.hostU32(bit)))
            } else {
                rule.add(bitwise(length: 4, mask: K.hostU32(.max), xor: K.hostU32(bit)))
            }
            let set = NftExpr("meta")
            set.set(K.attr(NFTNL_EXPR_META_KEY), u32: K.u32(NFT_META_MARK))
            set.set(K.attr(NFTNL_EXPR_META_SREG), u32: K.reg1)
            rule.add(set)

        case .verdictMap(let key, let map):
            // Register numbers as nft allocates them for a concatenation: 16-byte
            // registers where the field starts on a 16-byte boundary, else 32-bit ones.
            switch key {
            case .addressProtocolPort:
                rule.add(payload(network: addressOffset(.destination), length: addressLength))
                rule.add(meta(NFT_META_L4PROTO, into: family == .ip ? 9 : K.reg2))
                rule.add(destinationPort(into: family == .ip ? 10 : 13))
            case .protocolPort:
                rule.add(meta(NFT_META_L4PROTO))
                rule.add(destinationPort(into: 9))
            }
            rule.add(lookup(set: map.text, id: nil, verdict: true))

        case .randomPick(let modulus, let share):
            let numgen = NftExpr("numgen")
            numgen.set(K.attr(NFTNL_EXPR_NG_DREG), u32: K.reg1)
            numgen.set(K.attr(NFTNL_EXPR_NG_MODULUS), u32: UInt32(modulus))
            numgen.set(K.attr(NFTNL_EXPR_NG_TYPE), u32: K.u32(NFT_NG_RANDOM))
            numgen.set(K.attr(NFTNL_EXPR_NG_OFFSET), u32: 0)
            rule.add(numgen)
            if share == 1 {
                rule.add(cmp(NFT_CMP_EQ, K.hostU32(0)))
            } else {
                // As nft encodes `numgen random mod N < K`: the host-order number to network
                // order, then an unsigned (big-endian) comparison.
                let order = NftExpr("byteorder")
                order.set(K.attr(NFTNL_EXPR_BYTEORDER_SREG), u32: K.reg1)
                order.set(K.attr(NFTNL_EXPR_BYTEORDER_DREG), u32: K.reg1)
                order.set(K.attr(NFTNL_EXPR_BYTEORDER_OP), u32: K.u32(NFT_BYTEORDER_HTON))
                order.set(K.attr(NFTNL_EXPR_BYTEORDER_LEN), u32: 4)
                order.set(K.attr(NFTNL_EXPR_BYTEORDER_SIZE), u32: 4)
                rule.add(order)
                rule.add(cmp(NFT_CMP_LT, withUnsafeBytes(of: UInt32(share).bigEndian) { Array($0) }))
            }

        case .rememberSource(let set):
            rule.add(payload(network: addressOffset(.source), length: addressLength))
            let dynset = NftExpr("dynset")
            dynset.set(K.attr(NFTNL_EXPR_DYNSET_SREG_KEY), u32: K.reg1)
            dynset.set(K.attr(NFTNL_EXPR_DYNSET_OP), u32: K.u32(NFT_DYNSET_OP_UPDATE))
            dynset.set(K.attr(NFTNL_EXPR_DYNSET_SET_NAME), string: set.text)
            rule.add(dynset)

        case .dnat(let address, let port):
            rule.add(immediate(address.bytes, into: K.reg1))
            rule.add(immediate([UInt8(port >> 8), UInt8(port & 0xFF)], into: K.reg2))
            let nat = NftExpr("nat")
            nat.set(K.attr(NFTNL_EXPR_NAT_TYPE), u32: K.u32(NFT_NAT_DNAT))
            nat.set(K.attr(NFTNL_EXPR_NAT_FAMILY), u32: K.family(family))
            nat.set(K.attr(NFTNL_EXPR_NAT_REG_ADDR_MIN), u32: K.reg1)
            nat.set(K.attr(NFTNL_EXPR_NAT_REG_PROTO_MIN), u32: K.reg2)
            nat.set(K.attr(NFTNL_EXPR_NAT_FLAGS), u32: 0x2)  // NF_NAT_RANGE_PROTO_SPECIFIED
            rule.add(nat)

        case .masqueradeFullyRandom:
            let masq = NftExpr("masq")
            masq.set(K.attr(NFTNL_EXPR_MASQ_FLAGS), u32: 0x10)  // NF_NAT_RANGE_PROTO_RANDOM_FULLY
            rule.add(masq)

        case .reject:
            let reject = NftExpr("reject")
            reject.set(K.attr(NFTNL_EXPR_REJECT_TYPE), u32: K.u32(NFT_REJECT_ICMP_UNREACH))
            // ICMP_PORT_UNREACH (3) for IPv4, ICMPV6_PORT_UNREACH (4) for IPv6, as plain `reject`.
            reject.set(K.attr(NFTNL_EXPR_REJECT_CODE), u8: family == .ip ? 3 : 4)
            rule.add(reject)

        case .verdict(let verdict):
            rule.add(immediate(verdict))
        }
    }
}

/// `{ 10.0.0.0/8, 192.168.0.0/16 }`: an anonymous constant interval set, elements as nft
/// sends them: each range's start, and the address after its end flagged as interval
/// end; a leading zero end when the first range does not start at zero. Overlapping or
/// touching prefixes are merged first (the kernel refuses overlaps).
enum IntervalSet {
    static func add(_ cidrs: [CIDR], family: TableFamily, table: String, batch: inout Batch, owner: GraphObject) -> UInt32 {
        var ranges: [(IPAddress, IPAddress)] = []
        for cidr in cidrs.sorted() {
            if let last = ranges.last, let next = last.1.successor, cidr.address <= next {
                if cidr.lastAddress > last.1 { ranges[ranges.count - 1].1 = cidr.lastAddress }
                continue
            }
            ranges.append((cidr.address, cidr.lastAddress))
        }
        let id = batch.newSetID()
        let zero = family == .ip ? IPAddress(v4: 0) : IPAddress(v6: 0, 0)
        var elements: [([UInt8], UInt32)] = []
        let end = K.u32(NFT_SET_ELEM_INTERVAL_END)
        if ranges.first?.0 != zero { elements.append((zero.bytes, end)) }
        for (start, last) in ranges {
            elements.append((start.bytes, 0))
            if let after = last.successor { elements.append((after.bytes, end)) }
        }
        let keyType: KeyType = .address(family.ipFamily)
        let flags = K.u32(NFT_SET_ANONYMOUS) | K.u32(NFT_SET_CONSTANT) | K.u32(NFT_SET_INTERVAL)
        AnonymousSet.add(
            name: "__set%d", id: id, family: family, table: table, flags: flags, keyType: K.dataType(keyType),
            keyLength: K.keyLength(keyType), count: elements.count, batch: &batch, owner: owner
        ) { set in
            for (key, flag) in elements { set.addElement(key: key, flags: flag) }
        }
        return id
    }
}

/// Adds an anonymous constant set (`__set%d`) and its elements to the batch, found by
/// its id from the lookup that follows.
enum AnonymousSet {
    static func add(
        name: String, id: UInt32, family: TableFamily, table: String, flags: UInt32, keyType: UInt32, keyLength: Int,
        count: Int, batch: inout Batch, owner: GraphObject, fill: (borrowing NftSet) -> Void
    ) {
        let set = NftSet(family: K.family(family), table: table, name: name, id: id)
        set.set(NFTNL_SET_FLAGS, u32: flags)
        set.set(NFTNL_SET_KEY_TYPE, u32: keyType)
        set.set(NFTNL_SET_KEY_LEN, u32: UInt32(keyLength))
        set.set(NFTNL_SET_DESC_SIZE, u32: UInt32(count))
        // nft reads the key byte order from user data to print keys: addresses are big endian.
        var data = UserData()
        data.put(0, u32: 2)  // NFTNL_UDATA_SET_KEYBYTEORDER
        set.setUserData(data.bytes)
        batch.add(NFT_MSG_NEWSET, family: UInt16(K.family(family)), flags: NLM_F_CREATE, object: owner) { header in
            nftnl_set_nlmsg_build_payload(header, set.pointer)
        }
        fill(set)
        batch.add(NFT_MSG_NEWSETELEM, family: UInt16(K.family(family)), flags: NLM_F_CREATE, object: owner) { header in
            nftnl_set_elems_nlmsg_build_payload(header, set.pointer)
        }
    }
}
