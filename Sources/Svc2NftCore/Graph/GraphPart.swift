/// A piece of a rule graph, handed out while the rest is still being lowered
/// (`Lowering.lower(_:node:inParts:)`), so a fresh install can start before the whole
/// graph exists. Each table holds only this part's sets and chains, in graph order; the
/// parts of one lowering, in order, make up exactly the graph `Lowering.lower` returns.
public struct GraphPart: Sendable {
    public enum Stage: Sendable {
        /// The tables, their base and fixed chains, and their fixed sets without elements.
        case opening
        /// The chains and sets of a run of Services (nothing refers to them yet).
        case services
        /// The fixed sets with every element (they point at the Services' chains), and
        /// the base chains again: what makes the new tables take effect.
        case closing
    }

    public let stage: Stage
    public let tables: [Table]

    public init(stage: Stage, tables: [Table]) {
        self.stage = stage
        self.tables = tables
    }
}

extension GraphPart {
    /// A whole graph in parts, handed to `part` in order: the opening, the Services'
    /// chains and sets in `runs` runs (each ends where a Service's chains end), and the
    /// closing. Each part is built when its turn comes.
    public static func forEachPart(of graph: RuleGraph, runs: Int, _ part: (GraphPart) -> Void) {
        let runs = max(1, runs)
        func piece(_ table: Table, sets: [NamedSet], chains: ArraySlice<Chain>) -> Table {
            Table(family: table.family, name: table.name, comment: table.comment?.text, sets: sets, chains: Array(chains))
        }
        // Per table: where the fixed chains end, and where each run of Services ends.
        let bounds = graph.tables.map { table -> (leading: Int, ends: [Int]) in
            let chains = table.chains
            let leading = chains.firstIndex { $0.owner != nil } ?? chains.endIndex
            var ends: [Int] = []
            for run in 1...runs {
                var end = run == runs ? chains.endIndex : max(ends.last ?? leading, leading + (chains.endIndex - leading) * run / runs)
                while end > leading, end < chains.endIndex, chains[end].owner?.service == chains[end - 1].owner?.service { end += 1 }
                ends.append(end)
            }
            return (leading, ends)
        }
        part(
            GraphPart(
                stage: .opening,
                tables: zip(graph.tables, bounds).map { table, bound in
                    piece(table, sets: table.sets.filter { $0.owner == nil }.map(\.withoutElements), chains: table.chains[..<bound.leading])
                }))
        for run in 0..<runs {
            part(
                GraphPart(
                    stage: .services,
                    tables: zip(graph.tables, bounds).map { table, bound in
                        let start = run == 0 ? bound.leading : bound.ends[run - 1]
                        return piece(
                            table, sets: run == 0 ? table.sets.filter { $0.owner != nil } : [],
                            chains: table.chains[start..<bound.ends[run]])
                    }))
        }
        part(
            GraphPart(
                stage: .closing,
                tables: zip(graph.tables, bounds).map { table, bound in
                    piece(
                        table, sets: table.sets.filter { $0.owner == nil },
                        chains: table.chains[..<bound.leading].filter { $0.kind != .regular }[...])
                }))
    }
}
