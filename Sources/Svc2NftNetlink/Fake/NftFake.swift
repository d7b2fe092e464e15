import Foundation
import Svc2NftCore

/// An in-memory nf_tables for tests, in the spirit of knftables' fake: a
/// `NetfilterTransport` that applies each batch with the kernel's rules, or refuses it
/// whole (a refused batch changes nothing, and the first failing message's sequence
/// number comes back with the kernel's errno):
/// - a table must exist before anything in it; a chain before a rule goes into it or a
///   verdict (rule or map element) names it; a set before a rule or element uses it;
/// - names are unique: a rename to a name that exists fails (EEXIST), a set created
///   again must keep its definition, an element added again must keep its verdict;
/// - a chain still referenced by another chain's rule or by a map element cannot be
///   deleted (EBUSY), nor a set a rule uses; a chain's own rules go with it;
/// - renames take effect at the end of the batch (within it the old name holds).
/// Faults: `refuseRules(inChain:errno:)` makes it refuse rules as a kernel without an
/// expression would; `refusesTableDeletes` refuses deleting tables. It keeps every
/// batch it was sent (`batches`) and counts those it applied (`committed`).
public final class NftFake: NetfilterTransport, NetfilterReader {
    struct TableKey: Hashable {
        let family: TableFamily
        let name: String
    }

    struct FakeChain {
        var kind: ChainKind
        var handle: UInt64
        var comment: String?
        var rules: [FakeRule] = []
    }

    struct FakeSet {
        var definition: SetDefinition
        var elements: [[UInt8]: KernelElement] = [:]
    }

    struct FakeTable {
        var chains: [String: FakeChain] = [:]
        var sets: [String: FakeSet] = [:]
    }

    private var tables: [TableKey: FakeTable] = [:]
    private var nextHandle: UInt64 = 1
    private var refusals: [(chain: String, errno: Int32)] = []
    /// Refuse deleting tables (as for a table another process owns), with EBUSY.
    public var refusesTableDeletes = false
    /// Every batch sent, refused ones included.
    public private(set) var batches: [FinalizedBatch] = []
    /// Batches the fake applied (not refused).
    public private(set) var committed = 0

    public init() {}

    /// Refuses any rule added to a chain of this name (with or without its version
    /// suffix), as a kernel without one of the rule's expressions does.
    public func refuseRules(inChain name: String, errno: Int32 = EOPNOTSUPP) {
        refusals.append((name, errno))
    }

    public func stopRefusing() { refusals = [] }

    // MARK: NetfilterTransport

    public func send(_ batch: FinalizedBatch) throws(ApplyError) -> [NetlinkAck] {
        batches.append(batch)
        var working = Working(tables: tables, nextHandle: nextHandle, refusals: refusals, refusesTableDeletes: refusesTableDeletes)
        for (sequence, message) in FakeMessage.read(batch) {
            if let errno = working.apply(message) { return [NetlinkAck(sequence: sequence, errno: errno)] }
        }
        working.commitRenames()
        tables = working.tables
        nextHandle = working.nextHandle
        committed += 1
        return []
    }

    public func exists(_ family: TableFamily, table: String) throws(ApplyError) -> Bool {
        tables[TableKey(family: family, name: table)] != nil
    }

    public func state(of family: TableFamily, table: String) throws(ApplyError) -> TableState? {
        guard let fake = tables[TableKey(family: family, name: table)] else { return nil }
        var state = TableState()
        for (name, chain) in fake.chains {
            state.chains[name] = chain.kind
            state.handles[name] = chain.handle
            state.comments[name] = chain.comment
        }
        for (name, set) in fake.sets {
            state.sets[name] = set.definition
            if !set.definition.isDynamic { state.elements[name] = Array(set.elements.values) }
        }
        return state
    }

    public func chainHandle(_ family: TableFamily, table: String, chain: String) throws(ApplyError) -> UInt64? {
        tables[TableKey(family: family, name: table)]?.chains[chain]?.handle
    }

    public func live(_ family: TableFamily, table: String) throws(ApplyError) -> LiveTable? {
        guard let fake = tables[TableKey(family: family, name: table)] else { return nil }
        var live = LiveTable()
        for (name, chain) in fake.chains { live.chains[name] = chain.rules.map(\.text) }
        for (name, set) in fake.sets where !set.definition.isDynamic {
            live.sets[name] = set.elements.values.map(LiveTable.elementText).sorted()
        }
        return live
    }

    // MARK: Looking, for tests

    /// The chains of a table, by name (nil: no such table).
    public func chainNames(_ family: TableFamily, table: String) -> Set<String>? {
        tables[TableKey(family: family, name: table)].map { Set($0.chains.keys) }
    }

    /// A table as the kernel would list it, for comparing two fakes (or before and after).
    public func snapshot() -> [String] {
        var lines: [String] = []
        for (key, table) in tables.sorted(by: { ($0.key.family.rawValue, $0.key.name) < ($1.key.family.rawValue, $1.key.name) }) {
            lines.append("table \(key.family.rawValue) \(key.name)")
            for (name, chain) in table.chains.sorted(by: { $0.key < $1.key }) {
                lines.append("  chain \(name) \(chain.kind) \(chain.comment ?? "")")
                lines += chain.rules.map { "    \($0.text)" }
            }
            for (name, set) in table.sets.sorted(by: { $0.key < $1.key }) {
                lines.append("  set \(name)")
                lines += set.elements.values.map(LiveTable.elementText).sorted().map { "    \($0)" }
            }
        }
        return lines
    }

    /// One batch being applied to a copy of the tables.
    struct Working {
        var tables: [TableKey: FakeTable]
        var nextHandle: UInt64
        let refusals: [(chain: String, errno: Int32)]
        let refusesTableDeletes: Bool
        var renames: [(key: TableKey, from: String, to: String)] = []

        /// Applies one message; the kernel's errno if it refuses it.
        mutating func apply(_ message: FakeMessage) -> Int32? {
            switch message {
            case .newTable(let family, let name):
                let key = TableKey(family: family, name: name)
                if tables[key] == nil { tables[key] = FakeTable() }
            case .deleteTable(let family, let name):
                if refusesTableDeletes { return EBUSY }
                guard tables.removeValue(forKey: TableKey(family: family, name: name)) != nil else { return ENOENT }
            case .newChain(let family, let table, let name, let kind, let comment, let handle):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key] else { return ENOENT }
                if let handle {
                    guard let old = fake.chains.first(where: { $0.value.handle == handle })?.key else { return ENOENT }
                    if old == name { return nil }
                    if fake.chains[name] != nil || renames.contains(where: { $0.key == key && $0.to == name }) { return EEXIST }
                    renames.append((key, old, name))
                    return nil
                }
                if let existing = fake.chains[name] {
                    return existing.kind == kind ? nil : EEXIST
                }
                fake.chains[name] = FakeChain(kind: kind, handle: nextHandle, comment: comment)
                nextHandle += 1
                tables[key] = fake
            case .deleteChain(let family, let table, let name):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key], fake.chains[name] != nil else { return ENOENT }
                if references(to: name, in: fake, except: name) > 0 { return EBUSY }
                fake.chains[name] = nil
                tables[key] = fake
            case .newRule(let family, let table, let chain, let rule):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key], fake.chains[chain] != nil else { return ENOENT }
                if let errno = refused(chain) { return errno }
                for target in rule.chains where fake.chains[target] == nil { return ENOENT }
                for set in rule.sets where !set.hasPrefix("__") && fake.sets[set] == nil { return ENOENT }
                fake.chains[chain]!.rules.append(rule)
                tables[key] = fake
            case .flushRules(let family, let table, let chain):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key] else { return ENOENT }
                if let chain {
                    guard fake.chains[chain] != nil else { return ENOENT }
                    fake.chains[chain]!.rules = []
                } else {
                    for name in fake.chains.keys { fake.chains[name]!.rules = [] }
                }
                tables[key] = fake
            case .newSet(let family, let table, let name, let definition):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key] else { return ENOENT }
                guard let definition else { return nil }  // anonymous: lives and dies with its rule
                if let existing = fake.sets[name] { return existing.definition == definition ? nil : EEXIST }
                fake.sets[name] = FakeSet(definition: definition)
                tables[key] = fake
            case .deleteSet(let family, let table, let name):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key], fake.sets[name] != nil else { return ENOENT }
                if fake.chains.values.contains(where: { $0.rules.contains { $0.sets.contains(name) } }) { return EBUSY }
                fake.sets[name] = nil
                tables[key] = fake
            case .newElements(let family, let table, let set, let elements):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key] else { return ENOENT }
                if set.hasPrefix("__") { return nil }
                guard fake.sets[set] != nil else { return ENOENT }
                for element in elements {
                    if let chain = element.chain, fake.chains[chain] == nil { return ENOENT }
                    if let existing = fake.sets[set]!.elements[element.key], existing != element { return EEXIST }
                    fake.sets[set]!.elements[element.key] = element
                }
                tables[key] = fake
            case .deleteElements(let family, let table, let set, let keys):
                let key = TableKey(family: family, name: table)
                guard var fake = tables[key], fake.sets[set] != nil else { return ENOENT }
                if keys.isEmpty {
                    fake.sets[set]!.elements = [:]
                } else {
                    for element in keys {
                        guard fake.sets[set]!.elements.removeValue(forKey: element) != nil else { return ENOENT }
                    }
                }
                tables[key] = fake
            case .other:
                break
            }
            return nil
        }

        /// Rules of other chains and map elements that name `chain`.
        func references(to chain: String, in table: FakeTable, except own: String) -> Int {
            var count = 0
            for (name, other) in table.chains where name != own {
                for rule in other.rules { count += rule.chains.filter { $0 == chain }.count }
            }
            for set in table.sets.values { count += set.elements.values.filter { $0.chain == chain }.count }
            return count
        }

        func refused(_ chain: String) -> Int32? {
            let name = NftIdentifier.isIdentifier(chain) ? String(ChainName(chain).unversioned) : chain
            return refusals.first { $0.chain == chain || $0.chain == name }?.errno
        }

        mutating func commitRenames() {
            for rename in renames {
                guard var fake = tables[rename.key], let chain = fake.chains.removeValue(forKey: rename.from) else { continue }
                fake.chains[rename.to] = chain
                // Whatever named the chain names it by its new name.
                for name in fake.chains.keys {
                    for index in fake.chains[name]!.rules.indices {
                        var rule = fake.chains[name]!.rules[index]
                        guard rule.chains.contains(rename.from) else { continue }
                        rule.chains = rule.chains.map { $0 == rename.from ? rename.to : $0 }
                        rule.text = rule.text.replacingOccurrences(of: " \(rename.from) ", with: " \(rename.to) ")
                        fake.chains[name]!.rules[index] = rule
                    }
                }
                for set in fake.sets.keys {
                    for (key, element) in fake.sets[set]!.elements where element.chain == rename.from {
                        fake.sets[set]!.elements[key] = KernelElement(key: element.key, verdictCode: element.verdictCode, chain: rename.to)
                    }
                }
                tables[rename.key] = fake
            }
        }
    }
}
