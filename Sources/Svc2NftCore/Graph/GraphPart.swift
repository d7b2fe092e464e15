/// A piece of a rule graph, handed out while the rest is still being lowered
/// (`Lowering.inParts`, the one splitter), so a fresh install can start before the whole
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
