/// Gives every chain whose content can change a name that ends in a hash of that
/// content (`svc-shop/web/tcp/http_k3jd9x2a`), and every per-Service set one that ends
/// in a hash of its definition.
///
/// Why: `apply` must never rewrite the rules of a chain that packets may be traversing.
/// nf_tables runs a packet through one generation's rules but looks sets up in the
/// newest generation, so a packet crossing a commit can meet a rule whose anonymous
/// map is already gone and fall through without DNAT (measured: about 1 connection in
/// 70,000 during repeated in-place rewrites). With content-named chains, a change is a
/// new chain, created before anything points at it; the switch only swaps map elements,
/// which the kernel swaps atomically for every lookup.
///
/// Hashes are computed bottom-up (endpoint chains, then policy chains, then external
/// chains), so a change ripples to every chain that leads to it. Base chains and the
/// fixed chains with constant content keep kube-proxy's names.
enum Versioning {
    /// Fixed chains whose rules depend on options (NodePort addresses).
    static let versionedFixedChains: Set<String> = [BaseChains.services.text, BaseChains.nodePortEndpointsCheck.text]

    static func apply(to table: Table) -> Table {
        var setNames: [SetName: SetName] = [:]
        var sets = table.sets
        for index in sets.indices where sets[index].owner != nil {
            let set = sets[index]
            let definition = "\(set.keyType.map(\.rawValue)) \(set.isVerdictMap) \(set.timeoutSeconds ?? 0)"
            let name = SetName("\(set.name.text)_\(ObjectName.hash(definition))")
            setNames[set.name] = name
            sets[index] = NamedSet(name: name, keyType: set.keyType, isVerdictMap: set.isVerdictMap, timeoutSeconds: set.timeoutSeconds,
                                   comment: set.comment?.text, elements: set.elements, owner: set.owner)
        }

        var chainNames: [ChainName: ChainName] = [:]
        let versioned = Set(table.chains.filter { $0.owner != nil || versionedFixedChains.contains($0.name.text) }.map(\.name))
        var chains = table.chains
        var pending = Set(chains.indices.filter { versioned.contains(chains[$0].name) })
        // Each round versions the chains whose targets are all final; the graph is acyclic.
        while !pending.isEmpty {
            var progressed = false
            for index in pending.sorted() {
                let chain = chains[index]
                let targets = chain.rules.flatMap(\.exprs).flatMap(ChainTargets.of)
                guard targets.allSatisfy({ !versioned.contains($0) || chainNames[$0] != nil }) else { continue }
                let rules = chain.rules.map { rename($0, chains: chainNames, sets: setNames) }
                let content = "\(chain.kind) \(chain.comment?.text ?? "") \(rules)"
                let name = ChainName("\(chain.name.text)_\(ObjectName.hash(content))")
                chainNames[chain.name] = name
                chains[index] = Chain(name: name, kind: chain.kind, comment: chain.comment?.text, rules: rules, owner: chain.owner)
                pending.remove(index)
                progressed = true
            }
            precondition(progressed, "chain references form a cycle")
        }
        for index in chains.indices where !versioned.contains(table.chains[index].name) {
            let chain = chains[index]
            chains[index] = Chain(name: chain.name, kind: chain.kind, comment: chain.comment?.text,
                                  rules: chain.rules.map { rename($0, chains: chainNames, sets: setNames) }, owner: chain.owner)
        }
        for index in sets.indices {
            sets[index].elements = sets[index].elements.map { element in
                SetElement(key: element.key, verdict: element.verdict.map { rename($0, chainNames) })
            }
        }
        var result = table
        result.sets = sets.sorted { $0.name < $1.name }.sortedFixedFirst(like: table.sets)
        result.chains = chains.sortedKeepingBaseOrder(like: table.chains)
        return result
    }

    static func rename(_ verdict: Verdict, _ chains: [ChainName: ChainName]) -> Verdict {
        switch verdict {
        case .jump(let c): .jump(chains[c] ?? c)
        case .goto(let c): .goto(chains[c] ?? c)
        default: verdict
        }
    }

    static func rename(_ rule: Rule, chains: [ChainName: ChainName], sets: [SetName: SetName]) -> Rule {
        var copy = rule
        copy.exprs = rule.exprs.map { expr in
            switch expr {
            case .verdict(let v): .verdict(rename(v, chains))
            case .randomVerdict(let vs): .randomVerdict(vs.map { rename($0, chains) })
            case .address(let field, let negated, .named(let set)): .address(field, negated: negated, .named(sets[set] ?? set))
            case .rememberSource(let set): .rememberSource(sets[set] ?? set)
            default: expr
            }
        }
        return copy
    }
}

extension Array where Element == NamedSet {
    /// Fixed sets keep their table order first; per-Service sets follow by name.
    func sortedFixedFirst(like original: [NamedSet]) -> [NamedSet] {
        let fixed = original.filter { $0.owner == nil }.map(\.name)
        let byName = Dictionary(map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return fixed.compactMap { byName[$0] } + filter { $0.owner != nil }.sorted { $0.name < $1.name }
    }
}

extension Array where Element == Chain {
    /// Base and fixed chains in their table order, then per-Service chains by name.
    func sortedKeepingBaseOrder(like original: [Chain]) -> [Chain] {
        let fixedCount = original.prefix { $0.owner == nil }.count
        return Array(self[..<fixedCount]) + self[fixedCount...].sorted { $0.name < $1.name }
    }
}
