import CNftnl
import Svc2NftCore

/// Reads the chain, set and element messages of a netlink dump (what `MNLTransport`
/// and the recording of `RulesetMonitor` receive) into Swift values.
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

    /// The elements of one set-element message (an interval set's end markers left out).
    static func elements(_ header: UnsafePointer<nlmsghdr>) -> [KernelElement] {
        guard let set = nftnl_set_alloc() else { return [] }
        defer { nftnl_set_free(set) }
        guard nftnl_set_elems_nlmsg_parse(header, set) >= 0, let iterator = nftnl_set_elems_iter_create(set) else { return [] }
        defer { nftnl_set_elems_iter_destroy(iterator) }
        var elements: [KernelElement] = []
        while let element = nftnl_set_elems_iter_next(iterator) {
            // nftnl_set_elem_get_u32 dereferences NULL for an attribute that is not set.
            if nftnl_set_elem_is_set(element, UInt16(NFTNL_SET_ELEM_FLAGS)),
                nftnl_set_elem_get_u32(element, UInt16(NFTNL_SET_ELEM_FLAGS)) & K.u32(NFT_SET_ELEM_INTERVAL_END) != 0
            {
                continue
            }
            var length: UInt32 = 0
            guard let key = nftnl_set_elem_get(element, UInt16(NFTNL_SET_ELEM_KEY), &length) else { continue }
            let bytes = Array(UnsafeRawBufferPointer(start: key, count: Int(length)))
            guard nftnl_set_elem_is_set(element, UInt16(NFTNL_SET_ELEM_VERDICT)) else {
                elements.append(KernelElement(key: bytes))
                continue
            }
            let chain = nftnl_set_elem_get_str(element, UInt16(NFTNL_SET_ELEM_CHAIN)).map { String(cString: $0) }
            elements.append(
                KernelElement(
                    key: bytes, verdictCode: Int32(bitPattern: nftnl_set_elem_get_u32(element, UInt16(NFTNL_SET_ELEM_VERDICT))), chain: chain))
        }
        return elements
    }
}
