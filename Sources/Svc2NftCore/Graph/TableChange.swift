/// What turns one version of a table into the next, for `apply --follow`: chains and
/// sets to add and remove (content-named, so a chain is never rewritten in place), and
/// per shared map the elements to remove and to add (a changed element is in both).
public struct TableChange: Sendable, Equatable {
    public let family: TableFamily
    public let table: String
    public var addedChains: [Chain] = []
    public var removedChains: [Chain] = []
    public var addedSets: [NamedSet] = []
    public var removedSets: [NamedSet] = []
    public var elements: [SetName: ElementChange] = [:]

    public init(family: TableFamily, table: String) {
        self.family = family
        self.table = table
    }

    public var isEmpty: Bool {
        addedChains.isEmpty && removedChains.isEmpty && addedSets.isEmpty && removedSets.isEmpty && elements.isEmpty
    }
}

/// Elements of one set to remove (by key) and to add.
public struct ElementChange: Sendable, Equatable {
    public var removed: [SetElement] = []
    public var added: [SetElement] = []
}
