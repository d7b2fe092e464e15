/// What turns one version of a table into the next: the one plan every `apply` sends,
/// whoever made it. The kernel-state diff (`apply`, `run`'s full syncs) and incremental
/// lowering (`apply --follow`, `run`'s partial syncs) both produce it, and a fresh
/// install is a table change that adds everything (`creating`). One encoder turns it
/// into a netlink transaction (`ChangeEncoder` in Svc2NftNetlink). Empty when the
/// kernel already holds the table: then nothing at all is sent.
public struct TableChange: Sendable, Equatable {
    public let family: TableFamily
    public let table: String
    /// The table is new: created with this comment (an existing table keeps its own).
    public var createsTable = false
    public var tableComment: Comment? = nil
    /// Every rule of the table is flushed first, and every kept chain is in
    /// `rewrittenChains`: a fixed set or base chain changed shape (another svc2nft version).
    public var flushesAllRules = false
    /// Chains and sets whose definition changed (hook, key type): deleted, then created
    /// anew with the added ones. Only with `flushesAllRules`.
    public var replacedChains: [ChainName] = []
    public var replacedSets: [SetName] = []
    /// Chains created, with their rules.
    public var addedChains: [Chain] = []
    /// Chains deleted (after everything that referred to them is gone).
    public var removedChains: [Chain] = []
    /// Chains whose content changed: rewritten under their old name, renamed at the end.
    public var renamedChains: [RenamedChain] = []
    /// Chains kept under their name whose rules are flushed and added again (they jump
    /// to a chain the kernel did not have, or were edited behind svc2nft's back).
    public var rewrittenChains: [Chain] = []
    /// Sets created, with their elements.
    public var addedSets: [NamedSet] = []
    /// Sets deleted.
    public var removedSets: [SetName] = []
    /// Per kept set: the elements to remove (by key) and to add (a changed element is in both).
    public var elements: [SetName: ElementChange] = [:]

    public init(family: TableFamily, table: String) {
        self.family = family
        self.table = table
    }

    /// A table the kernel does not have: the table, all its chains and sets.
    public static func creating(_ table: Table) -> TableChange {
        var change = TableChange(family: table.family, table: table.name)
        change.createsTable = true
        change.tableComment = table.comment
        change.addedChains = table.chains
        change.addedSets = table.sets
        return change
    }

    public var isEmpty: Bool {
        !createsTable && !flushesAllRules && replacedChains.isEmpty && replacedSets.isEmpty && addedChains.isEmpty
            && removedChains.isEmpty && renamedChains.isEmpty && rewrittenChains.isEmpty && addedSets.isEmpty && removedSets.isEmpty
            && elements.isEmpty
    }

    /// New chain name -> the name the kernel knows it by until the end of the
    /// transaction (its old version's), for every renamed chain.
    public var kernelNames: [ChainName: ChainName] {
        Dictionary(renamedChains.map { ($0.new.name, $0.old.name) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Elements of one set to remove (by key) and to add. With `flushesFirst` every element
/// goes first (the kernel holds elements svc2nft cannot name, or the set was edited),
/// and `added` is the whole new content.
public struct ElementChange: Sendable, Equatable {
    public var flushesFirst = false
    public var removed: [SetElement] = []
    public var added: [SetElement] = []

    public init(flushesFirst: Bool = false, removed: [SetElement] = [], added: [SetElement] = []) {
        self.flushesFirst = flushesFirst
        self.removed = removed
        self.added = added
    }
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

/// Pairs each arriving chain with a leaving older version of itself (see `Versioning`
/// for why chains are renamed rather than replaced). The one place this pairing is
/// decided, for the kernel-state diff and for incremental lowering alike.
public enum ChainPairing {
    /// `leaving`: chains that go, in a fixed order (the first of two versions wins);
    /// `arriving`: chains that come. A pair has the same unversioned name and the same
    /// comment: a rename keeps the old chain's comment (the kernel ignores new user
    /// data), so a chain whose comment changed is created anew instead. Only regular
    /// chains are paired.
    public static func pair(leaving: [Chain], arriving: [Chain]) -> (renamed: [RenamedChain], added: [Chain], removed: [Chain]) {
        var byIdentity: [Substring: Chain] = [:]
        for chain in leaving where chain.kind == .regular {
            let key = chain.name.unversioned
            if byIdentity[key] == nil { byIdentity[key] = chain }
        }
        var renamed: [RenamedChain] = []
        var added: [Chain] = []
        for chain in arriving {
            let key = chain.name.unversioned
            if chain.kind == .regular, let previous = byIdentity[key], previous.comment == chain.comment {
                byIdentity[key] = nil
                renamed.append(RenamedChain(old: previous, new: chain))
            } else {
                added.append(chain)
            }
        }
        let paired = Set(renamed.map(\.old.name))
        return (renamed, added, leaving.filter { !paired.contains($0.name) })
    }
}
