/// nft table families used: one table per IP family, as kube-proxy does.
public enum TableFamily: String, Hashable, Sendable {
    case ip, ip6

    public init(_ family: IPFamily) { self = family == .v4 ? .ip : .ip6 }
    public var ipFamily: IPFamily { self == .ip ? .v4 : .v6 }
}

/// One nft table: sets and maps first (the fixed ones, then each Service's), then chains
/// (base chains in hook order, then the fixed chains, then each Service's chains by
/// name, Services by namespace and name). This is the order both backends create
/// objects in, and the order `nft list table` prints them.
public struct Table: Hashable, Sendable {
    public let family: TableFamily
    public let name: String
    public var comment: Comment?
    public var sets: [NamedSet]
    public var chains: [Chain]

    public init(family: TableFamily, name: String, comment: String?, sets: [NamedSet], chains: [Chain]) {
        self.family = family
        self.name = name
        self.comment = comment.map(Comment.init)
        self.sets = sets
        self.chains = chains
    }
}

/// The whole rule graph: the single source of truth both `compile` (text) and `apply`
/// (netlink) render. `notes` are lines for the text header (ExternalName Services,
/// health-check ports): they are not kernel objects.
public struct RuleGraph: Hashable, Sendable {
    public var tables: [Table]
    public var notes: [String]

    public init(tables: [Table], notes: [String]) {
        self.tables = tables
        self.notes = notes
    }

    /// Chains in all tables (counted without copying any: a copy of 100,000 chains costs
    /// a fifth of a second in reference counting).
    public var chainCount: Int { tables.reduce(0) { $0 + $1.chains.count } }

    /// Rules in all chains.
    public var ruleCount: Int {
        var count = 0
        for table in tables.indices {
            for chain in tables[table].chains.indices { count += tables[table].chains[chain].rules.count }
        }
        return count
    }
}
