import Svc2NftCore

/// Planning from the kernel's state: what the kernel holds of a table (`TableState`)
/// and the table the graph wants -> the `TableChange` between them. Empty when the
/// kernel already holds the table, chains, sets and shared-map elements alike, so an
/// unchanged `apply` (or a restart of `run`) sends nothing.
///
/// Chains are named after their content, so names alone say which chains changed: a
/// chain the kernel lacks is added, or renamed from a stale older version of itself
/// (`ChainPairing`); a chain the graph lacks is removed. Kept chains are trusted to hold
/// what their name says, unless `edited` names them (`apply --repair` read their rules)
/// or they jump to a chain that is added (the kernel did not have it). Shared maps are
/// compared element by element. Only when a fixed set or base chain changed shape
/// (another svc2nft version) is every rule flushed and refilled.
enum KernelStateDiff {
    static func change(to table: Table, from current: TableState, edited: Set<String> = []) -> TableChange {
        var change = TableChange(family: table.family, table: table.name)
        let wantedSets = Dictionary(table.sets.map { ($0.name.text, SetDefinition($0)) }, uniquingKeysWith: { a, _ in a })
        let wantedChains = Dictionary(table.chains.map { ($0.name.text, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let staleChains = current.chains.keys.filter { wantedChains[$0] == nil }.sorted()
        change.removedSets = current.sets.keys.filter { wantedSets[$0] == nil }.sorted().map(SetName.init)
        let replacedSets = Set(current.sets.keys.filter { name in wantedSets[name].map { $0 != current.sets[name] } ?? false })
        let replacedChains = Set(current.chains.keys.filter { name in wantedChains[name].map { $0 != current.chains[name] } ?? false })

        if !replacedSets.isEmpty || !replacedChains.isEmpty {
            change.flushesAllRules = true
            change.replacedSets = replacedSets.sorted().map(SetName.init)
            change.replacedChains = replacedChains.sorted().map(ChainName.init)
            let kept = { (chain: Chain) in current.chains[chain.name.text] != nil && !replacedChains.contains(chain.name.text) }
            change.addedChains = table.chains.filter { !kept($0) }
            change.rewrittenChains = table.chains.filter(kept)
            change.removedChains = staleChains.map(removed)
            change.addedSets = table.sets.filter { current.sets[$0.name.text] == nil || replacedSets.contains($0.name.text) }
            for set in table.sets where current.sets[set.name.text] != nil && !replacedSets.contains(set.name.text) {
                change.elements[set.name] = elementChange(set, kernel: current.elements[set.name.text], renamed: [:])
            }
            change.elements = change.elements.filter { $0.value != ElementChange() }
            return change
        }

        let leaving = staleChains.filter { current.handles[$0] != nil }.map { name in
            Chain(
                name: ChainName(name), kind: current.chains[name] ?? .regular, comment: current.comments[name], rules: [],
                owner: ChainIdentity(parsing: name)?.owner)
        }
        let paired = ChainPairing.pair(leaving: leaving, arriving: table.chains.filter { current.chains[$0.name.text] == nil })
        change.renamedChains = paired.renamed
        change.addedChains = paired.added
        let renamedOld = Set(paired.renamed.map(\.old.name.text))
        change.removedChains = staleChains.filter { !renamedOld.contains($0) }.map(removed)
        let addedNames = Set(paired.added.map(\.name))
        change.rewrittenChains = table.chains.filter { chain in
            guard current.chains[chain.name.text] != nil else { return false }
            return edited.contains(chain.name.text) || chain.rules.flatMap(\.exprs).flatMap(ChainTargets.of).contains(where: addedNames.contains)
        }
        change.addedSets = table.sets.filter { current.sets[$0.name.text] == nil }
        // Content-named sets hold what their name says unless someone edited them;
        // dynamic ones (session affinity) keep their entries.
        let renamed = Dictionary(paired.renamed.map { ($0.old.name.text, $0.new.name.text) }, uniquingKeysWith: { a, _ in a })
        for set in table.sets where current.sets[set.name.text] != nil && !SetDefinition(set).isDynamic {
            if set.isImmutable && !edited.contains(set.name.text) { continue }
            let elements = elementChange(set, kernel: current.elements[set.name.text], renamed: renamed)
            if elements != ElementChange() { change.elements[set.name] = elements }
        }
        return change
    }

    /// A chain the kernel has and the graph does not, named with its Service (for errors).
    static func removed(_ name: String) -> Chain {
        Chain(name: ChainName(name), kind: .regular, comment: nil as Comment?, rules: [], owner: ChainIdentity(parsing: name)?.owner)
    }

    /// The element changes that turn the kernel's elements of `set` into the graph's.
    /// `renamed`: old kernel chain name -> new name (an element pointing at a chain
    /// that is renamed in this transaction already points at the right chain). Unknown
    /// kernel elements (`kernel` nil: not read), or keys svc2nft cannot read back:
    /// everything is flushed and added again.
    static func elementChange(_ set: NamedSet, kernel: [KernelElement]?, renamed: [String: String]) -> ElementChange {
        guard let kernel else { return ElementChange(flushesFirst: true, added: set.elements) }
        var have: [[UInt8]: KernelElement] = [:]
        for element in kernel {
            have[element.key] = KernelElement(
                key: element.key, verdictCode: element.verdictCode, chain: element.chain.map { renamed[$0] ?? $0 })
        }
        var change = ElementChange()
        for element in set.elements {
            let wanted = KernelElement(element)
            guard let existing = have.removeValue(forKey: wanted.key) else {
                change.added.append(element)
                continue
            }
            if existing != wanted {
                change.removed.append(SetElement(key: element.key))
                change.added.append(element)
            }
        }
        for stale in have.values.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            guard let key = stale.key(as: set.keyType) else { return ElementChange(flushesFirst: true, added: set.elements) }
            change.removed.append(SetElement(key: key))
        }
        change.removed.sort(by: { $0.key.lexicographicallyPrecedes($1.key) })
        return change
    }
}
