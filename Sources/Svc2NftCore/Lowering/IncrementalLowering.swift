/// Lowering that remembers what each Service contributed, for `apply --follow`: after
/// a change only the Services it touched are lowered again, and the result is the
/// difference from the previous tables. Applying the differences gives the tables a
/// full `Lowering.lower` of the same cluster gives (tested).
public struct IncrementalLowering: Sendable {
    public let node: NodeConfig
    private var lowered: [ServiceID: [IPFamily: [PortContribution]]] = [:]
    private var fixed: [IPFamily: [NamedSet]] = [:]

    public init(node: NodeConfig) {
        self.node = node
        for family in IPFamily.allCases { fixed[family] = BaseChains.sets(node, family: family) }
    }

    /// Lowers `services` again from `store` (a Service the store lacks is removed) and
    /// returns what changed, per table; tables without changes are left out.
    public mutating func update(_ services: Set<ServiceID>, from store: ClusterStore) -> [TableChange] {
        let ids = Array(services)
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
        var changes: [IPFamily: TableChange] = [:]
        for family in IPFamily.allCases {
            changes[family] = TableChange(family: TableFamily(family), table: node.tableName)
        }
        for (id, new) in zip(ids, fresh) {
            let old = lowered[id] ?? [:]
            for family in IPFamily.allCases {
                Self.diff(old[family] ?? [], new[family] ?? [], into: &changes[family]!)
            }
            lowered[id] = new.isEmpty ? nil : new
        }
        let order = lowered.keys.sorted()
        for family in IPFamily.allCases {
            let sets = Lowering.fixedSets(order.map { lowered[$0]?[family] ?? [] }, node: node, family: family)
            for (old, new) in zip(fixed[family]!, sets) where old.elements != new.elements {
                changes[family]!.elements[new.name] = Self.diff(old.elements, new.elements)
            }
            fixed[family] = sets
        }
        return IPFamily.allCases.compactMap { changes[$0] }.filter { !$0.isEmpty }
    }

    /// The whole tables as they stand, as `Lowering.lower` builds them.
    public func graph() -> RuleGraph {
        let order = lowered.keys.sorted()
        return RuleGraph(
            tables: IPFamily.allCases.map { family in
                Lowering.assemble(order.map { lowered[$0]?[family] ?? [] }, node: node, family: family)
            }, notes: [])
    }

    static func diff(_ old: [PortContribution], _ new: [PortContribution], into change: inout TableChange) {
        let oldChains = Set(old.flatMap(\.chains).map(\.name))
        let newChains = Set(new.flatMap(\.chains).map(\.name))
        change.addedChains += new.flatMap(\.chains).filter { !oldChains.contains($0.name) }
        change.removedChains += old.flatMap(\.chains).filter { !newChains.contains($0.name) }
        let oldSets = Set(old.flatMap(\.sets).map(\.name))
        let newSets = Set(new.flatMap(\.sets).map(\.name))
        change.addedSets += new.flatMap(\.sets).filter { !oldSets.contains($0.name) }
        change.removedSets += old.flatMap(\.sets).filter { !newSets.contains($0.name) }
    }

    static func diff(_ old: [SetElement], _ new: [SetElement]) -> ElementChange {
        let oldSet = Set(old)
        let newSet = Set(new)
        return ElementChange(removed: old.filter { !newSet.contains($0) }, added: new.filter { !oldSet.contains($0) })
    }
}
