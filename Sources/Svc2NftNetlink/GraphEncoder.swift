import CNftnl
import Svc2NftCore

/// Rule graph -> one netlink batch; the kernel commits it whole or not at all.
///
/// A table that does not exist yet is created: table, chains, sets with elements,
/// rules, in graph order.
///
/// An existing table is updated in the same single transaction without creating a
/// chain that a shared map's element points at in that same transaction (see
/// `Versioning` for why): chains are named after their content, and a chain whose
/// content changed is **rewritten in place and renamed** to its new version's name
/// (same unversioned name), so every map element and rule that pointed at it still
/// does. Within the batch it is called by its old name (the kernel renames at commit).
/// Chains without an earlier version are created, chains without a new one deleted
/// after everything that referred to them is gone, the shared maps refilled. Only when
/// a fixed set or base chain itself changed shape (another svc2nft version) is every
/// rule flushed and refilled.
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

    /// The transactions of one apply, in the order they are sent (one, except for a
    /// `FreshInstall`), and what they do to chains.
    public struct Plan: Sendable {
        public let batches: [FinalizedBatch]
        public var created = 0
        public var rewritten = 0
        public var deleted = 0

        public var messageCount: Int { batches.reduce(0) { $0 + $1.messageCount } }
        public var byteCount: Int { batches.reduce(0) { $0 + $1.byteCount } }

        /// "1 transaction, 120 messages: 3 chains created, 2 rewritten in place, 3 deleted"
        public var summary: String {
            let transactions = batches.count == 1 ? "1 transaction" : "\(batches.count) transactions"
            return
                "\(transactions), \(messageCount) messages: \(created) chains created, \(rewritten) rewritten in place, \(deleted) deleted"
        }
    }

    /// Chain counts for `Plan`.
    struct Tally {
        var created = 0, rewritten = 0, deleted = 0
    }

    /// `current` is what the kernel holds now, per family (absent: no such table).
    /// `edited` names kept chains and per-Service maps whose live contents differ from
    /// their name (changed behind svc2nft's back; `apply --repair`): they are rewritten.
    public static func plan(
        _ graph: RuleGraph, current: [TableFamily: TableState] = [:], edited: [TableFamily: Set<String>] = [:], fault: Fault? = nil,
        owned: Bool = false
    ) -> Plan {
        var batch = Batch()
        var tally = Tally()
        for table in graph.tables {
            if let state = current[table.family] {
                encodeUpdate(table, current: state, edited: edited[table.family] ?? [], fault: fault, into: &batch, tally: &tally)
            } else {
                encodeCreate(table, fault: fault, owned: owned, into: &batch)
                tally.created += table.chains.count
            }
        }
        return Plan(batches: [batch.finalize()], created: tally.created, rewritten: tally.rewritten, deleted: tally.deleted)
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

    /// The table (unless `addingTable` is false: an earlier transaction made it), its
    /// chains, its sets with their elements, then the rules of the chains `withRules`
    /// picks (all of them by default).
    static func encodeCreate(
        _ table: Table, fault: Fault?, addingTable: Bool = true, owned: Bool = false, withRules: @Sendable (Chain) -> Bool = { _ in true },
        into batch: inout Batch
    ) {
        if addingTable { addTable(table.family, table.name, comment: table.comment, owned: owned, into: &batch) }
        inParallel(table.chains, into: &batch) { chain, batch in addChain(chain, table: table, into: &batch) }
        for set in table.sets { encode(set, table: table, create: true, into: &batch) }
        inParallel(table.chains, into: &batch) { chain, batch in
            if withRules(chain) { addRules(of: chain, table: table, fault: fault, into: &batch) }
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

    static func encodeUpdate(
        _ table: Table, current: TableState, edited: Set<String> = [], fault: Fault?, into batch: inout Batch, tally: inout Tally
    ) {
        let family = table.family
        let wantedSets = Dictionary(table.sets.map { ($0.name.text, SetDefinition($0)) }, uniquingKeysWith: { a, _ in a })
        let wantedChains = Dictionary(table.chains.map { ($0.name.text, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let reshaped =
            current.sets.contains { name, have in wantedSets[name].map { $0 != have } ?? false }
            || current.chains.contains { name, have in wantedChains[name].map { $0 != have } ?? false }
        if reshaped {
            encodeFullRefresh(table, current: current, fault: fault, into: &batch)
            tally.rewritten += table.chains.count
            tally.deleted += deleteStale(table, current: current, into: &batch)
            return
        }

        // Pair each new chain with a stale version of itself, if the kernel has one.
        var staleByBase: [Substring: String] = [:]
        for name in current.chains.keys.sorted() where wantedChains[name] == nil && current.chains[name] == .regular {
            guard current.handles[name] != nil else { continue }
            let base = ChainName(name).unversioned
            if staleByBase[base] == nil { staleByBase[base] = name }
        }
        var newChains: [Chain] = []
        var renamed: [(old: String, chain: Chain)] = []
        for chain in table.chains where current.chains[chain.name.text] == nil {
            // A rename keeps the old chain's comment (the kernel ignores new user data).
            if chain.kind == .regular, let old = staleByBase[chain.name.unversioned], current.comments[old] == chain.comment?.text {
                staleByBase[chain.name.unversioned] = nil
                renamed.append((old, chain))
            } else {
                newChains.append(chain)
            }
        }
        let oldNames = Dictionary(uniqueKeysWithValues: renamed.map { ($0.chain.name, ChainName($0.old)) })
        let newChainNames = Set(newChains.map(\.name))
        let newSets = table.sets.filter { current.sets[$0.name.text] == nil }

        addTable(family, table.name, comment: nil, into: &batch)
        inParallel(newChains, into: &batch) { chain, batch in addChain(chain, table: table, into: &batch) }
        for set in newSets { encode(set.retargeted(oldNames), table: table, create: true, into: &batch) }
        inParallel(newChains, into: &batch) { chain, batch in
            addRules(of: chain.retargeted(oldNames), table: table, fault: fault, into: &batch)
        }
        for (old, chain) in renamed { rewrite(old, as: chain.retargeted(oldNames), table: table, fault: fault, into: &batch) }
        var rewritten: Set<ChainName> = []
        for chain in table.chains where current.chains[chain.name.text] != nil {
            let targets = chain.rules.flatMap(\.exprs).flatMap(ChainTargets.of)
            guard targets.contains(where: newChainNames.contains) || edited.contains(chain.name.text) else { continue }
            flushRules(family, table.name, chain: chain.name.text, object: .chain(family, chain.name, chain.owner), into: &batch)
            addRules(of: chain.retargeted(oldNames), table: table, fault: fault, into: &batch)
            rewritten.insert(chain.name)
        }
        if let fault, !newChains.contains(where: { fault.matches($0.name) }), !renamed.contains(where: { fault.matches($0.chain.name) }),
            !rewritten.contains(where: fault.matches), let chain = table.chains.first(where: { fault.matches($0.name) })
        {
            // The faulty rule must reach the kernel even when its chain is kept.
            addRules(of: Chain(name: chain.name, kind: chain.kind, rules: [], owner: chain.owner), table: table, fault: fault, into: &batch)
        }
        // The shared maps: refilled (affinity entries survive; content-named sets hold
        // what their name says unless someone edited them).
        for set in table.sets where current.sets[set.name.text] != nil {
            if SetDefinition(set).isDynamic || (set.isImmutable && !edited.contains(set.name.text)) { continue }
            flushElements(family, table.name, set.name.text, into: &batch)
            encode(set.retargeted(oldNames), table: table, create: false, into: &batch)
        }
        let keep = Set(renamed.map(\.old))
        tally.deleted += deleteStale(table, current: current, keeping: keep, into: &batch)
        for (old, chain) in renamed {
            renameChain(family, table.name, handle: current.handles[old]!, to: chain, into: &batch)
        }
        tally.created += newChains.count
        tally.rewritten += renamed.count + rewritten.count
    }

    /// Chains and sets the kernel has and the graph does not (except `keeping`, chains
    /// being renamed). Each stale chain's rules are flushed first (they refer to sets and
    /// other chains), then the stale sets go (their elements refer to chains), then the
    /// chains. Returns the number of chains deleted.
    @discardableResult
    static func deleteStale(_ table: Table, current: TableState, keeping: Set<String> = [], into batch: inout Batch) -> Int {
        let wanted = Set(table.chains.map(\.name.text))
        let stale = current.chains.keys.filter { !wanted.contains($0) && !keeping.contains($0) }.sorted()
        let wantedSets = Set(table.sets.map(\.name.text))
        remove(
            chains: stale.map { ($0, Owner?.none) }, sets: current.sets.keys.sorted().filter { !wantedSets.contains($0) },
            family: table.family, table: table.name, into: &batch)
        return stale.count
    }

    /// Removes chains and sets in a safe order: the chains' rules first (they refer to
    /// sets and other chains), then the sets (their elements refer to chains), then the
    /// chains, callers before callees.
    static func remove(chains: [(String, Owner?)], sets: [String], family: TableFamily, table: String, into batch: inout Batch) {
        for (name, owner) in chains {
            flushRules(family, table, chain: name, object: .chain(family, ChainName(name), owner), into: &batch)
        }
        for name in sets { deleteSet(family, table, name, into: &batch) }
        deleteChains(chains, family: family, table: table, into: &batch)
    }

    /// Replaces the rules of the kernel chain `old` (an older version of `chain`) with
    /// `chain`'s; the rename to `chain`'s name comes at the end of the batch.
    static func rewrite(_ old: String, as chain: Chain, table: Table, fault: Fault?, into batch: inout Batch) {
        flushRules(table.family, table.name, chain: old, object: .chain(table.family, chain.name, chain.owner), into: &batch)
        addRules(of: chain, table: table, fault: fault, as: old, into: &batch)
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
        inParallel(table.chains, into: &main) { chain, batch in addRules(of: chain, table: table, fault: fault, into: &batch) }
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
    static func addRules(of chain: Chain, table: Table, fault: Fault?, as kernelName: String? = nil, into batch: inout Batch) {
        let family = table.family
        let encoder = ExprEncoder(family: family, table: table.name)
        var rules = chain.rules
        if let fault, fault.matches(chain.name) {
            rules.append(Rule([.verdict(.jump(ChainName("svc2nft-fault-no-such-chain")))]))
        }
        for (index, rule) in rules.enumerated() {
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
