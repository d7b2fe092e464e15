/// Lowering that remembers what each Service contributed, for `apply --follow`: after
/// a change only the Services it touched are lowered again, and the result is the
/// difference from the previous tables, in time proportional to the change. Applying
/// the differences gives the tables a full `Lowering.lower` of the same cluster gives
/// (tested).
public struct IncrementalLowering: Sendable {
    public let node: NodeConfig
    private var lowered: [ServiceID: [IPFamily: [PortContribution]]] = [:]
    private var shared: [IPFamily: SharedSets] = [:]

    public init(node: NodeConfig) {
        self.node = node
        for family in IPFamily.allCases { shared[family] = SharedSets(BaseChains.sets(node, family: family)) }
    }

    /// Lowers `services` again from `store` (a Service the store lacks is removed) and
    /// returns what changed, per table; tables without changes are left out.
    public mutating func update(_ services: Set<ServiceID>, from store: ClusterStore) -> [TableChange] {
        let ids = services.sorted()
        let node = self.node
        let fresh = ids.orderedParallelMap { id -> [IPFamily: [PortContribution]] in
            guard let service = store.services[id] else { return [:] }
            let slices = store.slices(of: id)
            var out: [IPFamily: [PortContribution]] = [:]
            for family in IPFamily.allCases {
                let contributions = Lowering.contributions(of: service, slices: slices, node: node, family: family)
                if !contributions.isEmpty { out[family] = contributions }
            }
            return out
        }
        var changes: [TableChange] = []
        for family in IPFamily.allCases {
            var change = TableChange(family: TableFamily(family), table: node.tableName)
            for (id, new) in zip(ids, fresh) {
                let old = lowered[id]?[family] ?? []
                let now = new[family] ?? []
                Self.diff(old, now, into: &change)
                shared[family]!.replace(id, old: old, new: now)
            }
            change.elements = shared[family]!.takeChanges(renamed: change.renamedChains)
            if !change.isEmpty { changes.append(change) }
        }
        for (id, new) in zip(ids, fresh) { lowered[id] = new.isEmpty ? nil : new }
        return changes
    }

    /// The whole tables as they stand, as `Lowering.lower` builds them.
    public func graph() -> RuleGraph {
        let order = lowered.keys.sorted()
        return RuleGraph(
            tables: IPFamily.allCases.map { family in
                Lowering.assemble(order.map { lowered[$0]?[family] ?? [] }, node: node, family: family)
            }, notes: [])
    }

    /// The same tables in the parts of a fresh install (`Lowering.inParts`).
    public func parts(_ part: (GraphPart) -> Void) -> (chains: Int, rules: Int) {
        let order = lowered.keys.sorted()
        return Lowering.inParts(serviceCount: order.count, node: node, part) { run in
            order[run].map { id in IPFamily.allCases.map { lowered[id]?[$0] ?? [] } }
        }
    }

    /// One Service's chains and sets before and after; a chain with an older version
    /// among the old ones is renamed, not removed and added (`ChainPairing`).
    static func diff(_ old: [PortContribution], _ new: [PortContribution], into change: inout TableChange) {
        let oldChains = old.flatMap(\.chains), newChains = new.flatMap(\.chains)
        let oldNames = Set(oldChains.map(\.name)), newNames = Set(newChains.map(\.name))
        let paired = ChainPairing.pair(
            leaving: oldChains.filter { !newNames.contains($0.name) }, arriving: newChains.filter { !oldNames.contains($0.name) })
        change.renamedChains += paired.renamed
        change.addedChains += paired.added
        change.removedChains += paired.removed
        let oldSets = Set(old.flatMap(\.sets).map(\.name))
        let newSets = Set(new.flatMap(\.sets).map(\.name))
        change.addedSets += new.flatMap(\.sets).filter { !oldSets.contains($0.name) }
        change.removedSets += old.flatMap(\.sets).map(\.name).filter { !newSets.contains($0) }
    }
}

/// The shared sets and maps of one family, kept as claims: for each key, every Service
/// that wants an element there, in Service order. The element is the first claim's
/// (the node's own elements come before any Service), as in `Lowering.fixedSets`.
struct SharedSets: Sendable {
    struct Claim: Sendable {
        let service: ServiceID
        let order: Int
        let element: SetElement
    }

    private var base: [SetName: [[KeyValue]: SetElement]] = [:]
    private var claims: [SetName: [[KeyValue]: [Claim]]] = [:]
    /// Keys touched since the last `takeChanges`, with the element they had before.
    private var touched: [SetName: [[KeyValue]: SetElement?]] = [:]

    init(_ sets: [NamedSet]) {
        for set in sets {
            var elements: [[KeyValue]: SetElement] = [:]
            for element in set.elements where elements[element.key] == nil { elements[element.key] = element }
            base[set.name] = elements
            claims[set.name] = [:]
        }
    }

    func current(_ set: SetName, _ key: [KeyValue]) -> SetElement? {
        base[set]?[key] ?? claims[set]?[key]?.min { ($0.service, $0.order) < ($1.service, $1.order) }?.element
    }

    mutating func replace(_ service: ServiceID, old: [PortContribution], new: [PortContribution]) {
        for (set, element, _) in Self.elements(old) where claims[set] != nil {
            remember(set, element.key)
            claims[set]![element.key]?.removeAll { $0.service == service }
            if claims[set]![element.key]?.isEmpty == true { claims[set]![element.key] = nil }
        }
        for (set, element, order) in Self.elements(new) where claims[set] != nil {
            remember(set, element.key)
            claims[set]![element.key, default: []].append(Claim(service: service, order: order, element: element))
        }
    }

    private mutating func remember(_ set: SetName, _ key: [KeyValue]) {
        if touched[set]?[key] == nil { touched[set, default: [:]][key] = .some(current(set, key)) }
    }

    /// The element changes since the last call. An element that only follows a renamed
    /// chain is no change: it points at the same chain, which gets the new name.
    mutating func takeChanges(renamed: [RenamedChain]) -> [SetName: ElementChange] {
        let names = Dictionary(renamed.map { ($0.old.name, $0.new.name) }, uniquingKeysWith: { a, _ in a })
        var changes: [SetName: ElementChange] = [:]
        for (set, keys) in touched {
            var change = ElementChange()
            for (key, before) in keys {
                let after = current(set, key)
                if before?.retargeted(names) == after { continue }
                if let before { change.removed.append(before) }
                if let after { change.added.append(after) }
            }
            if !change.removed.isEmpty || !change.added.isEmpty {
                change.removed.sort(by: SetElement.keyOrder)
                change.added.sort(by: SetElement.keyOrder)
                changes[set] = change
            }
        }
        touched = [:]
        return changes
    }

    static func elements(_ contributions: [PortContribution]) -> [(SetName, SetElement, Int)] {
        var out: [(SetName, SetElement, Int)] = []
        for contribution in contributions {
            for (set, list) in contribution.elements.sorted(by: { $0.key < $1.key }) {
                for element in list { out.append((set, element, out.count)) }
            }
        }
        return out
    }
}
