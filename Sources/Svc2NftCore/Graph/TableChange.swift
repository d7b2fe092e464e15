/// What turns one version of a table into the next, for `apply --follow`: chains and
/// sets to add and remove, chains whose new version replaces the old one in place
/// (same unversioned name), and per shared map the elements to remove and to add (a
/// changed element is in both).
public struct TableChange: Sendable, Equatable {
    public let family: TableFamily
    public let table: String
    public var addedChains: [Chain] = []
    public var removedChains: [Chain] = []
    public var renamedChains: [RenamedChain] = []
    public var addedSets: [NamedSet] = []
    public var removedSets: [NamedSet] = []
    public var elements: [SetName: ElementChange] = [:]

    public init(family: TableFamily, table: String) {
        self.family = family
        self.table = table
    }

    public var isEmpty: Bool {
        addedChains.isEmpty && removedChains.isEmpty && renamedChains.isEmpty && addedSets.isEmpty && removedSets.isEmpty
            && elements.isEmpty
    }
}

/// Elements of one set to remove (by key) and to add.
public struct ElementChange: Sendable, Equatable {
    public var removed: [SetElement] = []
    public var added: [SetElement] = []
}

/// A chain whose content changed: its rules are replaced and it is renamed to the new
/// version's name, in one transaction, so whatever points at it keeps pointing at it.
public struct RenamedChain: Sendable, Equatable {
    public let old: Chain
    public let new: Chain

    public init(old: Chain, new: Chain) {
        self.old = old
        self.new = new
    }
}
