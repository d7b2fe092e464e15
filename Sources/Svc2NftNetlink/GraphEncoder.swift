import CNftnl
import Svc2NftCore

/// Rule graph -> one netlink batch. For each table: add it (so the delete cannot fail),
/// delete it, then create table, chains, sets with their elements, and rules, in graph
/// order. The kernel commits all of it or nothing.
public enum GraphEncoder {
    /// Element messages stay well under the 64 KiB netlink attribute limit.
    static let maxElementBytes = 32 * 1024

    /// A test-only fault: append a rule jumping to a chain that does not exist to the
    /// named chain, so the kernel refuses the batch at that rule.
    public struct Fault: Sendable, Equatable {
        public let chain: String
        public init(chain: String) { self.chain = chain }
    }

    public static func replaceBatch(_ graph: RuleGraph, fault: Fault? = nil) -> FinalizedBatch {
        var batch = Batch()
        for table in graph.tables {
            encodeReplace(table, fault: fault, into: &batch)
        }
        return batch.finalize()
    }

    /// Deletes our tables; succeeds when they are absent (each is added first).
    public static func deleteBatch(tableName: String) -> FinalizedBatch {
        var batch = Batch()
        for family in [TableFamily.ip, .ip6] {
            addTable(family, tableName, comment: nil, into: &batch)
            deleteTable(family, tableName, into: &batch)
        }
        return batch.finalize()
    }

    static func addTable(_ family: TableFamily, _ name: String, comment: Comment?, into batch: inout Batch) {
        let table = NftTable(family: K.family(family), name: name)
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

    static func encodeReplace(_ table: Table, fault: Fault?, into batch: inout Batch) {
        let family = table.family
        let nfFamily = UInt16(K.family(family))
        addTable(family, table.name, comment: nil, into: &batch)
        deleteTable(family, table.name, into: &batch)
        addTable(family, table.name, comment: table.comment, into: &batch)

        for chain in table.chains {
            let c = NftChain(family: K.family(family), table: table.name, name: chain.name.text)
            if case .base(let type, let hook, let priority) = chain.kind {
                c.setBase(type: type.rawValue, hook: K.hook(hook), priority: Int32(priority))
            }
            if let comment = chain.comment {
                var data = UserData()
                data.put(0, string: comment.text)  // NFTNL_UDATA_CHAIN_COMMENT
                c.setUserData(data.bytes)
            }
            batch.add(NFT_MSG_NEWCHAIN, family: nfFamily, flags: NLM_F_CREATE, object: .chain(family, chain.name, chain.owner)) {
                nftnl_chain_nlmsg_build_payload($0, c.pointer)
            }
        }

        for set in table.sets {
            encode(set, table: table, into: &batch)
        }

        let encoder = ExprEncoder(family: family, table: table.name)
        for chain in table.chains {
            var rules = chain.rules
            if let fault, fault.chain == chain.name.text {
                rules.append(Rule([.verdict(.jump(ChainName("svc2nft-fault-no-such-chain")))]))
            }
            for (index, rule) in rules.enumerated() {
                let object = GraphObject.rule(family, chain.name, index: index, chain.owner)
                let r = NftRule(family: K.family(family), table: table.name, chain: chain.name.text)
                for expr in rule.exprs {
                    encoder.encode(expr, into: r, batch: &batch, owner: object)
                }
                if let comment = rule.comment {
                    var data = UserData()
                    data.put(0, string: comment.text)  // NFTNL_UDATA_RULE_COMMENT
                    r.setUserData(data.bytes)
                }
                batch.add(NFT_MSG_NEWRULE, family: nfFamily, flags: NLM_F_CREATE | NLM_F_APPEND, object: object) {
                    nftnl_rule_nlmsg_build_payload($0, r.pointer)
                }
            }
        }
    }

    static func encode(_ set: NamedSet, table: Table, into batch: inout Batch) {
        let family = table.family
        let nfFamily = UInt16(K.family(family))
        let id = batch.newSetID()
        let s = NftSet(family: K.family(family), table: table.name, name: set.name.text, id: id)
        var flags: UInt32 = set.isVerdictMap ? K.u32(NFT_SET_MAP) : 0
        if set.timeoutSeconds != nil { flags |= K.u32(NFT_SET_TIMEOUT) | K.u32(NFT_SET_EVAL) }
        s.set(NFTNL_SET_FLAGS, u32: flags)
        let keyType = set.keyType.reduce(UInt32(0)) { $0 << 6 | K.dataType($1) }
        s.set(NFTNL_SET_KEY_TYPE, u32: keyType)
        s.set(NFTNL_SET_KEY_LEN, u32: UInt32(set.keyType.map(K.keyLength).reduce(0, +)))
        if set.isVerdictMap {
            s.set(NFTNL_SET_DATA_TYPE, u32: 0xFFFF_FF00)  // NFT_DATA_VERDICT
            s.set(NFTNL_SET_DATA_LEN, u32: 0)
        }
        if let timeout = set.timeoutSeconds {
            s.set(NFTNL_SET_TIMEOUT, u64: UInt64(timeout) * 1000)
            s.set(NFTNL_SET_DESC_SIZE, u32: UInt32(NamedSet.dynamicSize))
        }
        var data = UserData()
        // Key byte order as nft records it: big endian for a single address key, none
        // (0) for concatenations.
        data.put(0, u32: set.keyType.count == 1 ? 2 : 0)  // NFTNL_UDATA_SET_KEYBYTEORDER
        if let comment = set.comment { data.put(7, string: comment.text) }  // NFTNL_UDATA_SET_COMMENT
        s.setUserData(data.bytes)
        let object = GraphObject.set(family, set.name, set.owner)
        batch.add(NFT_MSG_NEWSET, family: nfFamily, flags: NLM_F_CREATE, object: object) {
            nftnl_set_nlmsg_build_payload($0, s.pointer)
        }

        // Elements in chunks, each its own message.
        var start = 0
        while start < set.elements.count {
            var end = start
            var bytes = 0
            while end < set.elements.count, bytes < maxElementBytes {
                let element = set.elements[end]
                bytes += 64 + K.keyBytes(element.key).count + (element.verdict.flatMap { K.verdict($0).chain?.utf8.count } ?? 0)
                end += 1
            }
            let chunk = NftSet(family: K.family(family), table: table.name, name: set.name.text, id: id)
            for element in set.elements[start..<end] {
                chunk.addElement(key: K.keyBytes(element.key), verdict: element.verdict.map(K.verdict))
            }
            batch.add(NFT_MSG_NEWSETELEM, family: nfFamily, flags: NLM_F_CREATE, object: .elements(family, set.name)) {
                nftnl_set_elems_nlmsg_build_payload($0, chunk.pointer)
            }
            start = end
        }
    }
}
