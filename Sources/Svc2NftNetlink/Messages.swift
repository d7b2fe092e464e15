import CNftnl
import Svc2NftCore

/// One netlink message per call: the nf_tables messages svc2nft sends, each remembering
/// its graph object (so a kernel error names it). Knows nothing of plans or order:
/// `ChangeEncoder` decides what is sent and when.
enum Messages {
    /// Element messages stay well under the 64 KiB netlink attribute limit.
    static let maxElementBytes = 32 * 1024

    /// `owned`: the table is created owned by the sending socket and persistent
    /// (`TableOwnership`); without it no flags are sent, so an existing table keeps its own.
    static func addTable(_ family: TableFamily, _ name: String, comment: Comment?, owned: Bool = false, into batch: inout Batch) {
        let table = NftTable(family: K.family(family), name: name)
        if owned { nftnl_table_set_u32(table.pointer, UInt16(NFTNL_TABLE_FLAGS.rawValue), TableOwnership.flags) }
        if let comment {
            var data = UserData()
            data.put(0, string: comment.text)  // NFTNL_UDATA_TABLE_COMMENT
            table.setUserData(data.bytes)
        }
        batch.add(NFT_MSG_NEWTABLE, family: UInt16(K.family(family)), flags: NLM_F_CREATE, object: .table(family, name)) {
            nftnl_table_nlmsg_build_payload($0, table.pointer)
        }
    }

    static func deleteTable(_ family: TableFamily, _ name: String, into batch: inout Batch) {
        let table = NftTable(family: K.family(family), name: name)
        batch.add(NFT_MSG_DELTABLE, family: UInt16(K.family(family)), flags: 0, object: .table(family, name)) {
            nftnl_table_nlmsg_build_payload($0, table.pointer)
        }
    }

    /// Encodes each item's messages, in item order, on all cores: chunks of items go into
    /// batch fragments, appended in order. (Encoding 10,000 Services' rules is over half a
    /// second on one core.)
    static func inParallel<Item: Sendable>(_ items: [Item], into batch: inout Batch, _ encode: @Sendable (Item, inout Batch) -> Void) {
        guard items.count >= 256 else {
            for item in items { encode(item, &batch) }
            return
        }
        let fragments = Parallel.chunks(items.count) { chunk, range in
            var fragment = Batch(fragmentWithSetIDsFrom: UInt32(chunk + 1) << 24)
            for index in range { encode(items[index], &fragment) }
            return fragment.fragment()
        }
        for fragment in fragments { batch.append(fragment) }
    }

    static func addChain(_ chain: Chain, table: Table, into batch: inout Batch) {
        let family = table.family
        let c = NftChain(family: K.family(family), table: table.name, name: chain.name.text)
        if case .base(let type, let hook, let priority) = chain.kind {
            c.setBase(type: type.rawValue, hook: K.hook(hook), priority: Int32(priority))
        }
        if let comment = chain.comment {
            var data = UserData()
            data.put(0, string: comment.text)  // NFTNL_UDATA_CHAIN_COMMENT
            c.setUserData(data.bytes)
        }
        batch.add(NFT_MSG_NEWCHAIN, family: UInt16(K.family(family)), flags: NLM_F_CREATE, object: .chain(family, chain.name, chain.owner))
        {
            nftnl_chain_nlmsg_build_payload($0, c.pointer)
        }
    }

    /// The chain's rules, appended; `as` names the kernel chain they go into when that
    /// is an older version of `chain` (renamed at the end of the batch).
    static func addRules(of chain: Chain, table: Table, as kernelName: String? = nil, into batch: inout Batch) {
        let family = table.family
        let encoder = ExprEncoder(family: family, table: table.name)
        for (index, rule) in chain.rules.enumerated() {
            let object = GraphObject.rule(family, chain.name, index: index, chain.owner)
            let r = NftRule(family: K.family(family), table: table.name, chain: kernelName ?? chain.name.text)
            for expr in rule.exprs {
                encoder.encode(expr, into: r, batch: &batch, owner: object)
            }
            if let comment = rule.comment {
                var data = UserData()
                data.put(0, string: comment.text)  // NFTNL_UDATA_RULE_COMMENT
                r.setUserData(data.bytes)
            }
            batch.add(NFT_MSG_NEWRULE, family: UInt16(K.family(family)), flags: NLM_F_CREATE | NLM_F_APPEND, object: object) {
                nftnl_rule_nlmsg_build_payload($0, r.pointer)
            }
        }
    }

    /// Renames the chain with this handle (its old version) to `chain`'s name.
    static func renameChain(_ family: TableFamily, _ table: String, handle: UInt64, to chain: Chain, into batch: inout Batch) {
        let c = NftChain(family: K.family(family), table: table, name: chain.name.text)
        c.setHandle(handle)
        batch.add(NFT_MSG_NEWCHAIN, family: UInt16(K.family(family)), flags: 0, object: .chain(family, chain.name, chain.owner)) {
            nftnl_chain_nlmsg_build_payload($0, c.pointer)
        }
    }

    /// Deletes a chain; the kernel deletes its rules with it.
    static func deleteChain(_ family: TableFamily, _ table: String, _ name: String, owner: Owner?, into batch: inout Batch) {
        let chain = NftChain(family: K.family(family), table: table, name: name)
        batch.add(NFT_MSG_DELCHAIN, family: UInt16(K.family(family)), flags: 0, object: .chain(family, ChainName(name), owner)) {
            nftnl_chain_nlmsg_build_payload($0, chain.pointer)
        }
    }

    /// Deletes every rule of `chain`, or of the whole table when `chain` is nil.
    static func flushRules(_ family: TableFamily, _ table: String, chain: String?, object: GraphObject, into batch: inout Batch) {
        let flush = NftRule(family: K.family(family), table: table, chain: chain)
        batch.add(NFT_MSG_DELRULE, family: UInt16(K.family(family)), flags: 0, object: object) {
            nftnl_rule_nlmsg_build_payload($0, flush.pointer)
        }
    }

    static func deleteSet(_ family: TableFamily, _ table: String, _ name: String, into batch: inout Batch) {
        let set = NftSet(family: K.family(family), table: table, name: name, id: batch.newSetID())
        batch.add(NFT_MSG_DELSET, family: UInt16(K.family(family)), flags: 0, object: .set(family, SetName(name), nil)) {
            nftnl_set_nlmsg_build_payload($0, set.pointer)
        }
    }

    /// A set-element delete with no elements flushes the set.
    static func flushElements(_ family: TableFamily, _ table: String, _ name: String, into batch: inout Batch) {
        let set = NftSet(family: K.family(family), table: table, name: name, id: batch.newSetID())
        batch.add(NFT_MSG_DELSETELEM, family: UInt16(K.family(family)), flags: 0, object: .elements(family, SetName(name))) {
            nftnl_set_elems_nlmsg_build_payload($0, set.pointer)
        }
    }

    /// The set (unless `create` is false: it exists with the same definition) and its elements.
    static func addSet(_ set: NamedSet, table: Table, create: Bool, into batch: inout Batch) {
        let family = table.family
        let nfFamily = UInt16(K.family(family))
        let id = batch.newSetID()
        let s = NftSet(family: K.family(family), table: table.name, name: set.name.text, id: id)
        let definition = SetDefinition(set)
        s.set(NFTNL_SET_FLAGS, u32: definition.flags)
        s.set(NFTNL_SET_KEY_TYPE, u32: definition.keyType)
        s.set(NFTNL_SET_KEY_LEN, u32: definition.keyLength)
        if set.isVerdictMap {
            s.set(NFTNL_SET_DATA_TYPE, u32: 0xFFFF_FF00)  // NFT_DATA_VERDICT
            s.set(NFTNL_SET_DATA_LEN, u32: 0)
        }
        if let timeout = set.timeoutSeconds {
            s.set(NFTNL_SET_TIMEOUT, u64: UInt64(timeout) * 1000)
            s.set(NFTNL_SET_DESC_SIZE, u32: UInt32(NamedSet.dynamicSize))
        }
        var data = UserData()
        // Key byte order as nft records it: big endian for a single address key, none (0)
        // for concatenations.
        data.put(0, u32: set.keyType.count == 1 ? 2 : 0)  // NFTNL_UDATA_SET_KEYBYTEORDER
        if let comment = set.comment { data.put(7, string: comment.text) }  // NFTNL_UDATA_SET_COMMENT
        s.setUserData(data.bytes)
        let object = GraphObject.set(family, set.name, set.owner)
        if create {
            batch.add(NFT_MSG_NEWSET, family: nfFamily, flags: NLM_F_CREATE, object: object) {
                nftnl_set_nlmsg_build_payload($0, s.pointer)
            }
        }

        addElements(set.elements, to: set.name, id: id, family: family, table: table.name, into: &batch)
    }

    /// Elements in chunks, each its own message; with `delete`, removes them by key.
    static func addElements(
        _ elements: [SetElement], to set: SetName, id: UInt32? = nil, delete: Bool = false, family: TableFamily, table: String,
        into batch: inout Batch
    ) {
        var start = 0
        while start < elements.count {
            var end = start
            var bytes = 0
            while end < elements.count, bytes < maxElementBytes {
                let element = elements[end]
                bytes += 64 + K.keyBytes(element.key).count + (element.verdict.flatMap { K.verdict($0).chain?.utf8.count } ?? 0)
                end += 1
            }
            let chunk = NftSet(family: K.family(family), table: table, name: set.text, id: id ?? batch.newSetID())
            for element in elements[start..<end] {
                chunk.addElement(key: K.keyBytes(element.key), verdict: delete ? nil : element.verdict.map(K.verdict))
            }
            batch.add(
                delete ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, family: UInt16(K.family(family)), flags: delete ? 0 : NLM_F_CREATE,
                object: .elements(family, set)
            ) {
                nftnl_set_elems_nlmsg_build_payload($0, chunk.pointer)
            }
            start = end
        }
    }
}
