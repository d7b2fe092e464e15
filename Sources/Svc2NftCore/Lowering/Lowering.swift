/// Model -> rule graph. Pure: no I/O, clock or randomness; the same `Cluster` and
/// `NodeConfig` always give the same graph.
public enum Lowering {
    public static func lower(_ cluster: Cluster, node: NodeConfig) -> RuleGraph {
        var notes: [String] = []
        for service in cluster.services {
            if service.type == .externalName {
                notes.append("\(service.id): ExternalName \(service.externalName ?? ""): DNS alias, no packet rules")
            } else if service.isHeadless {
                notes.append("\(service.id): headless (clusterIP None): no packet rules")
            }
        }
        let tables = IPFamily.allCases.map { lowerTable(cluster, node: node, family: $0) }
        return RuleGraph(tables: tables, notes: notes)
    }

    /// The graph `lower` returns, handed to `part` piece by piece as it is lowered, in
    /// order (`GraphPart`): the opening, the chains and sets of runs of Services (the
    /// first runs small, so the first parts come soon), the closing. Returns how many
    /// chains and rules the parts hold.
    public static func lower(
        _ cluster: Cluster, node: NodeConfig, inParts part: (GraphPart) -> Void
    ) -> (chains: Int, rules: Int) {
        inParts(serviceCount: cluster.services.count, node: node, part) { run in
            Array(run).orderedParallelMap { index in
                let service = cluster.services[index]
                return IPFamily.allCases.map {
                    contributions(of: service, slices: cluster.slices[service.id] ?? [], node: node, family: $0)
                }
            }
        }
    }

    /// The one splitter of a ruleset into the parts of a fresh install (`GraphPart`):
    /// `contributions` gives, for a run of Service indices, each Service's contributions
    /// per family (in `IPFamily.allCases` order), lowered now (`lower(_:node:inParts:)`)
    /// or remembered (`IncrementalLowering.parts`). The parts, in order, make up exactly
    /// the graph `assemble` makes of the same contributions.
    static func inParts(
        serviceCount: Int, node: NodeConfig, _ part: (GraphPart) -> Void,
        contributions: (Range<Int>) -> [[[PortContribution]]]
    ) -> (chains: Int, rules: Int) {
        let families = IPFamily.allCases
        func table(_ family: IPFamily, sets: [NamedSet], chains: [Chain]) -> Table {
            Table(family: TableFamily(family), name: node.tableName, comment: tableComment, sets: sets, chains: chains)
        }
        var chainCount = 0, ruleCount = 0
        func counted(_ tables: [Table]) -> [Table] {
            for table in tables {
                chainCount += table.chains.count
                for chain in table.chains { ruleCount += chain.rules.count }
            }
            return tables
        }
        let leading = families.map { leadingChains(node, family: $0) }
        part(
            GraphPart(
                stage: .opening,
                tables: counted(
                    families.indices.map { f in
                        table(families[f], sets: BaseChains.sets(node, family: families[f]).map(\.withoutElements), chains: leading[f])
                    })))
        var lowered: [[[PortContribution]]] = families.map { _ in [] }
        for run in runs(serviceCount) {
            let perService = contributions(run)
            let tables = families.indices.map { f in
                let contributed = perService.map { $0[f] }
                lowered[f] += contributed
                return table(families[f], sets: serviceSets(contributed), chains: serviceChains(contributed))
            }
            part(GraphPart(stage: .services, tables: counted(tables)))
        }
        part(
            GraphPart(
                stage: .closing,
                tables: families.indices.map { f in
                    table(
                        families[f], sets: fixedSets(lowered[f], node: node, family: families[f]),
                        chains: leading[f].filter { $0.kind != .regular })
                }))
        return (chainCount, ruleCount)
    }

    /// Runs of Service indices for `lower(_:node:inParts:)`: a thirty-second, another,
    /// a sixteenth, an eighth, a quarter, the rest (one run below 1,000 Services).
    static func runs(_ count: Int) -> [Range<Int>] {
        guard count >= 1000 else { return [0..<count] }
        var runs: [Range<Int>] = []
        var start = 0
        for share in [32, 32, 16, 8, 4] {
            runs.append(start..<start + count / share)
            start += count / share
        }
        runs.append(start..<count)
        return runs
    }

    static func lowerTable(_ cluster: Cluster, node: NodeConfig, family: IPFamily) -> Table {
        let lowered = cluster.services.orderedParallelMap { service in
            contributions(of: service, slices: cluster.slices[service.id] ?? [], node: node, family: family)
        }
        return assemble(lowered, node: node, family: family)
    }

    /// What one Service adds to one family's table: a contribution per port (none for
    /// ExternalName, headless, or a Service without a ClusterIP of this family).
    static func contributions(of service: Service, slices: [EndpointSlice], node: NodeConfig, family: IPFamily) -> [PortContribution] {
        guard service.type != .externalName, !service.isHeadless,
            let clusterIP = service.clusterIPs.first(where: { $0.family == family })
        else { return [] }
        return service.ports.map { port in
            let endpoints = EndpointSelection.endpoints(for: port, in: slices, family: family)
            return ServicePortLowering(
                service: service, port: port, family: family, node: node, clusterIP: clusterIP,
                selection: EndpointSelection(endpoints: endpoints, service: service, node: node)
            ).lower()
        }
    }

    /// The table from every Service's contributions, given in Service order. The shared
    /// maps and the chains are independent, so they are put together on two cores.
    static func assemble(_ lowered: [[PortContribution]], node: NodeConfig, family: IPFamily) -> Table {
        let (sets, chains) = Parallel.pair {
            fixedSets(lowered, node: node, family: family) + serviceSets(lowered)
        } _: {
            serviceChains(lowered, after: leadingChains(node, family: family))
        }
        return Table(
            family: TableFamily(family), name: node.tableName, comment: tableComment, sets: sets, chains: chains)
    }

    static let tableComment = "Kubernetes Services, written by svc2nft"

    /// The base chains, then the fixed chains they jump to.
    static func leadingChains(_ node: NodeConfig, family: IPFamily) -> [Chain] {
        let regular = BaseChains.regularChains(node, family: family)
        return BaseChains.baseChains(jumpingTo: regular.versioned) + regular.chains
    }

    /// `leading`, then each Service's chains (of all its ports) sorted by name, Services
    /// in the given order; each chain copied once (100,000 chains: copies cost more than
    /// sorting).
    static func serviceChains(_ lowered: [[PortContribution]], after leading: [Chain] = []) -> [Chain] {
        var chains = leading
        chains.reserveCapacity(leading.count + lowered.reduce(0) { $0 + $1.reduce(0) { $0 + $1.chains.count } })
        var order: [(name: ChainName, port: Int, chain: Int)] = []
        for service in lowered {
            order.removeAll(keepingCapacity: true)
            for (p, contribution) in service.enumerated() {
                for (k, chain) in contribution.chains.enumerated() { order.append((chain.name, p, k)) }
            }
            order.sort { $0.name < $1.name }
            for entry in order { chains.append(service[entry.port].chains[entry.chain]) }
        }
        return chains
    }

    /// Each Service's own sets (session affinity) sorted by name, Services in the given order.
    static func serviceSets(_ lowered: [[PortContribution]]) -> [NamedSet] {
        lowered.flatMap { service in service.flatMap(\.sets).sortedByName(\.name) }
    }

    /// The shared sets and maps (`service-ips`, `cluster-ips`, …) with every Service's
    /// elements, given in Service order.
    static func fixedSets(_ lowered: [[PortContribution]], node: NodeConfig, family: IPFamily) -> [NamedSet] {
        var sets = BaseChains.sets(node, family: family)
        var elements: [SetName: [SetElement]] = [:]
        for contribution in lowered.joined() {
            for (map, list) in contribution.elements { elements[map, default: []].append(contentsOf: list) }
        }
        for index in sets.indices {
            let added = elements[sets[index].name] ?? []
            // Two Services may claim the same address and port; the first (by namespace/name) wins, as in kube-proxy's map.
            var seen = Set(sets[index].elements.map(\.key))
            let merged = sets[index].elements + added.filter { seen.insert($0.key).inserted }
            sets[index].elements = merged.sorted(by: SetElement.keyOrder)
        }
        return sets
    }
}

extension Array {
    /// Sorted by a name, moving indices rather than the (large) elements while sorting.
    func sortedByName<Kind>(_ name: (Element) -> ObjectName<Kind>) -> [Element] {
        let names = map(name)
        return indices.sorted { names[$0] < names[$1] }.map { self[$0] }
    }
}
