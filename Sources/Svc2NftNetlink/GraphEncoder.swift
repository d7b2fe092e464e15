import CNftnl
import Svc2NftCore

/// Rule graph -> netlink batches; the kernel commits each batch whole or not at all.
///
/// A table that does not exist yet is created in one batch: table, chains, sets with
/// elements, rules, in graph order.
///
/// An existing table is updated without rewriting any chain a packet may be in (see
/// `Versioning` for why): chains are named after their content, so a `Plan` is
/// 1. prepare: create the chains and sets the kernel lacks, with their rules and
///    elements; nothing refers to them yet;
/// 2. switch: refill the elements of the kept sets (the dispatch maps now point at the
///    new chains), and re-point a base chain whose target chain is new. Session-affinity
///    sets keep their entries; chains whose name (so content) is unchanged are not
///    touched at all;
/// 3. cleanup: delete chains and sets the graph no longer has.
/// If the switch fails, `undo` removes what prepare added, so the previous ruleset is
/// left exactly as it was. Only when a fixed set or base chain itself changed shape
/// (another svc2nft version) is everything flushed and refilled in the switch.
public enum GraphEncoder {
    /// Element messages stay well under the 64 KiB netlink attribute limit.
    static let maxElementBytes = 32 * 1024

    /// A test-only fault: append a rule jumping to a chain that does not exist to the
    /// named chain, so the kernel refuses the batch at that rule.
    public struct Fault: Sendable, Equatable {
        public let chain: String
        public init(chain: String) { self.chain = chain }

        /// The chain, named with or without its version suffix.
        func matches(_ name: ChainName) -> Bool { name.text == chain || name.text.hasPrefix(chain + "_") }
    }

    /// The batches of one apply, in order; empty ones are nil.
    public struct Plan: Sendable {
        public let prepare: FinalizedBatch?
        public let main: FinalizedBatch
        public let cleanup: FinalizedBatch?
        /// Deletes what `prepare` created, for when `main` fails.
        public let undo: FinalizedBatch?

        public var sent: [FinalizedBatch] { [prepare, main, cleanup].compactMap { $0 } }
        public var messageCount: Int { sent.map(\.messageCount).reduce(0, +) }
        public var byteCount: Int { sent.map(\.byteCount).reduce(0, +) }

        /// "prepare 120, switch 14, cleanup 30 messages"
        public var summary: String {
            [("prepare", prepare), ("switch", main), ("cleanup", cleanup)].compactMap { name, batch in
                batch.map { "\(name) \($0.messageCount)" }
            }.joined(separator: ", ") + " messages"
        }
    }

    /// `current` is what the kernel holds now, per family (absent: no such table).
    /// `edited` names kept chains and per-Service maps whose live contents differ from
    /// their name (changed behind svc2nft's back; `apply --repair`): they are rewritten.
    public static func plan(
        _ graph: RuleGraph, current: [TableFamily: TableState] = [:], edited: [TableFamily: Set<String>] = [:], fault: Fault? = nil
    ) -> Plan {
        var prepare = Batch(), main = Batch(), cleanup = Batch(), undo = Batch()
        for table in graph.tables {
            if let state = current[table.family] {
                encodeUpdate(
                    table, current: state, edited: edited[table.family] ?? [], fault: fault, prepare: &prepare, main: &main,
                    cleanup: &cleanup, undo: &undo)
            } else {
                encodeCreate(table, fault: fault, into: &main)
            }
        }
        func nonEmpty(_ batch: consuming Batch) -> FinalizedBatch? {
            batch.messageCount == 0 ? nil : batch.finalize()
        }
        return Plan(prepare: nonEmpty(prepare), main: main.finalize(), cleanup: nonEmpty(cleanup), undo: nonEmpty(undo))
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

    static func encodeCreate(_ table: Table, fault: Fault?, into batch: inout Batch) {
        addTable(table.family, table.name, comment: table.comment, into: &batch)
        for chain in table.chains { addChain(chain, table: table, into: &batch) }
        for set in table.sets { encode(set, table: table, create: true, into: &batch) }
        for chain in table.chains { addRules(of: chain, table: table, fault: fault, into: &batch) }
    }

    static func encodeUpdate(
        _ table: Table, current: TableState, edited: Set<String> = [], fault: Fault?,
        prepare: inout Batch, main: inout Batch, cleanup: inout Batch, undo: inout Batch
    ) {
        let family = table.family
        let wantedSets = Dictionary(table.sets.map { ($0.name.text, SetDefinition($0)) }, uniquingKeysWith: { a, _ in a })
        let wantedChains = Dictionary(table.chains.map { ($0.name.text, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let reshaped =
            current.sets.contains { name, have in wantedSets[name].map { $0 != have } ?? false }
            || current.chains.contains { name, have in wantedChains[name].map { $0 != have } ?? false }
        if reshaped {
            encodeFullRefresh(table, current: current, fault: fault, into: &main)
            deleteStale(table, current: current, into: &cleanup)
            return
        }
        let newSets = table.sets.filter { current.sets[$0.name.text] == nil }
        let newChains = table.chains.filter { current.chains[$0.name.text] == nil }
        let newChainNames = Set(newChains.map(\.name))

        // 1. prepare: new chains (map elements may point at them), new sets with their
        //    elements, then the new chains' rules (which refer to both).
        if !newSets.isEmpty || !newChains.isEmpty {
            addTable(family, table.name, comment: nil, into: &prepare)
            for chain in newChains { addChain(chain, table: table, into: &prepare) }
            for set in newSets {
                encode(set, table: table, create: true, into: &prepare)
            }
            for chain in newChains { addRules(of: chain, table: table, fault: fault, into: &prepare) }
            // Undo: sets first (their elements hold references to the new chains).
            for set in newSets { deleteSet(family, table.name, set.name.text, into: &undo) }
            deleteChains(newChains.map { ($0.name.text, $0.owner) }, family: family, table: table.name, into: &undo)
        }

        // 2. switch: refill the kept sets; re-point kept chains that lead to new chains.
        addTable(family, table.name, comment: nil, into: &main)
        for set in table.sets where current.sets[set.name.text] != nil {
            // Affinity entries survive; content-named maps already hold what their name
            // says, unless someone edited them.
            if SetDefinition(set).isDynamic || (set.isImmutable && !edited.contains(set.name.text)) { continue }
            flushElements(family, table.name, set.name.text, into: &main)
            encode(set, table: table, create: false, into: &main)
        }
        var rewritten: Set<ChainName> = []
        for chain in table.chains where current.chains[chain.name.text] != nil {
            let targets = chain.rules.flatMap(\.exprs).flatMap(ChainTargets.of)
            guard targets.contains(where: newChainNames.contains) || edited.contains(chain.name.text) else { continue }
            flushRules(family, table.name, chain: chain.name.text, object: .chain(family, chain.name, chain.owner), into: &main)
            addRules(of: chain, table: table, fault: fault, into: &main)
            rewritten.insert(chain.name)
        }
        if let fault, !newChains.contains(where: { fault.matches($0.name) }), !rewritten.contains(where: fault.matches),
            let chain = table.chains.first(where: { fault.matches($0.name) })
        {
            // The faulty rule must reach the kernel even when its chain is kept.
            addRules(of: Chain(name: chain.name, kind: chain.kind, rules: [], owner: chain.owner), table: table, fault: fault, into: &main)
        }

        // 3. cleanup.
        deleteStale(table, current: current, into: &cleanup)
    }

    /// Chains and sets the kernel has and the graph does not. Each stale chain's rules
    /// are flushed first (they refer to sets and other chains), then the stale sets go
    /// (their elements refer to chains), then the chains.
    static func deleteStale(_ table: Table, current: TableState, into batch: inout Batch) {
        let wanted = Set(table.chains.map(\.name.text))
        let stale = current.chains.keys.filter { !wanted.contains($0) }.sorted()
        for name in stale {
            flushRules(table.family, table.name, chain: name, object: .chain(table.family, ChainName(name), nil), into: &batch)
        }
        let wantedSets = Set(table.sets.map(\.name.text))
        for name in current.sets.keys.sorted() where !wantedSets.contains(name) {
            deleteSet(table.family, table.name, name, into: &batch)
        }
        deleteChains(stale.map { ($0, Owner?.none) }, family: table.family, table: table.name, into: &batch)
    }

    /// Deletes chains callers first: external and firewall chains, then policy chains,
    /// then endpoint chains, so no deleted chain is still jumped to from a live one.
    static func deleteChains(_ chains: [(String, Owner?)], family: TableFamily, table: String, into batch: inout Batch) {
        func rank(_ name: String) -> Int {
            for (index, prefix) in ["ext-", "fw-", "local-", "svc-", "services", "nodeport-endpoints-check"].enumerated()
            where name.hasPrefix(prefix) {
                return index
            }
            return name.hasPrefix("ep-") ? 10 : 20
        }
        for (name, owner) in chains.sorted(by: { (rank($0.0), $0.0) < (rank($1.0), $1.0) }) {
            deleteChain(family, table, name, owner: owner, into: &batch)
        }
    }

    /// The slow path, for a table whose fixed sets or base chains changed shape: flush
    /// every rule, re-create changed sets, refill everything.
    static func encodeFullRefresh(_ table: Table, current: TableState, fault: Fault?, into main: inout Batch) {
        let family = table.family
        addTable(family, table.name, comment: nil, into: &main)
        flushRules(family, table.name, chain: nil, object: .table(family, table.name), into: &main)
        let wantedSets = Dictionary(table.sets.map { ($0.name.text, SetDefinition($0)) }, uniquingKeysWith: { a, _ in a })
        for (name, definition) in current.sets.sorted(by: { $0.key < $1.key }) where wantedSets[name].map({ $0 != definition }) ?? false {
            deleteSet(family, table.name, name, into: &main)
        }
        let wantedChains = Dictionary(table.chains.map { ($0.name.text, $0.kind) }, uniquingKeysWith: { a, _ in a })
        for (name, kind) in current.chains.sorted(by: { $0.key < $1.key }) where wantedChains[name].map({ $0 != kind }) ?? false {
            deleteChain(family, table.name, name, owner: nil, into: &main)
        }
        for chain in table.chains where current.chains[chain.name.text] != chain.kind {
            addChain(chain, table: table, into: &main)
        }
        for set in table.sets {
            let definition = SetDefinition(set)
            if current.sets[set.name.text] == definition {
                if definition.isDynamic { continue }
                flushElements(family, table.name, set.name.text, into: &main)
                encode(set, table: table, create: false, into: &main)
            } else {
                encode(set, table: table, create: true, into: &main)
            }
        }
        for chain in table.chains { addRules(of: chain, table: table, fault: fault, into: &main) }
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

    static func addRules(of chain: Chain, table: Table, fault: Fault?, into batch: inout Batch) {
        let family = table.family
        let encoder = ExprEncoder(family: family, table: table.name)
        var rules = chain.rules
        if let fault, fault.matches(chain.name) {
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
            batch.add(NFT_MSG_NEWRULE, family: UInt16(K.family(family)), flags: NLM_F_CREATE | NLM_F_APPEND, object: object) {
                nftnl_rule_nlmsg_build_payload($0, r.pointer)
            }
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
    static func encode(_ set: NamedSet, table: Table, create: Bool, into batch: inout Batch) {
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
