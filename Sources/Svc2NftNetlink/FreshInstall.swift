import Dispatch
import Svc2NftCore

/// A fresh install, when the kernel has none of our tables: each `GraphPart` is its own
/// transaction, committed on another thread while the next part is lowered and encoded
/// (the kernel spends over three seconds on 10,000 Services, on one core; lowering and
/// encoding them take over half a second on two).
///
/// Packets meet nothing new before the last commit: until then the base chains have no
/// rules and accept every packet, and nothing else is reachable. The last part adds the
/// base chains' rules and the dispatch maps' elements, and every chain they lead to has
/// all its rules by then, in both of the kernel's generations (a commit copies unchanged
/// chains' rules into the next one). Chains and sets are created in graph order, so
/// `nft list` shows the same as after one transaction (or `nft -f` of `compile`).
/// If the kernel refuses a later part, the tables the earlier ones made are deleted
/// again, so a refused install leaves no table behind.
final class FreshInstall: @unchecked Sendable {
    private let applier: Applier
    /// Commits batches in order; `sent` and `failure` are only touched on it.
    private let committer = DispatchQueue(label: "svc2nft.fresh-install")
    private var sent: [FinalizedBatch] = []
    private var failure: (part: Int, error: ApplyError)?
    private var parts = 0
    private var chains = 0
    private var tables: [(TableFamily, String)] = []

    init(applier: Applier) {
        self.applier = applier
    }

    /// Encodes `part` on this thread and queues it for the kernel (unless it is empty).
    func add(_ part: GraphPart) {
        if part.stage == .opening { tables += part.tables.map { ($0.family, $0.name) } }
        if part.stage != .closing { chains += part.tables.reduce(0) { $0 + $1.chains.count } }
        guard let batch = GraphEncoder.plan(Self.changes(part), handles: [:], owned: applier.ownsTables).batches.first else { return }
        let index = parts
        parts += 1
        committer.async { [self] in
            guard failure == nil else { return }
            do throws(ApplyError) {
                try applier.commit(batch)
                sent.append(batch)
            } catch {
                failure = (index, error)
            }
        }
    }

    /// Waits for the kernel; on a refusal after the first part, deletes the tables.
    func finish() throws(ApplyError) -> Applied {
        let (sent, failure) = committer.sync { (self.sent, self.failure) }
        guard let failure else { return Applied(plan: GraphEncoder.Plan(batches: sent, created: chains)) }
        guard failure.part > 0 else { throw failure.error }
        var undo = Batch()
        for (family, name) in tables {
            Messages.addTable(family, name, comment: nil, into: &undo)
            Messages.deleteTable(family, name, into: &undo)
        }
        do {
            try applier.commit(undo.finalize())
        } catch {
            throw .partlyInstalled(cause: failure.error, undo: error)
        }
        throw failure.error
    }

    /// The table changes of one part: the opening creates the tables with their chains
    /// (base chains still without rules) and empty fixed sets; a run of Services adds
    /// chains and sets; the closing fills the fixed sets and the base chains.
    static func changes(_ part: GraphPart) -> [TableChange] {
        part.tables.map { table in
            var change = TableChange(family: table.family, table: table.name)
            switch part.stage {
            case .opening:
                change = .creating(table)
                change.addedChains = table.chains.map { $0.kind == .regular ? $0 : Chain(name: $0.name, kind: $0.kind, comment: $0.comment, rules: [], owner: $0.owner) }
            case .services:
                change.addedChains = table.chains
                change.addedSets = table.sets
            case .closing:
                change.rewrittenChains = table.chains
                for set in table.sets where !set.elements.isEmpty { change.elements[set.name] = ElementChange(added: set.elements) }
            }
            return change
        }
    }
}

extension Applier {
    /// Installs a graph where the kernel has none of its tables (see `FreshInstall`):
    /// `lowering` hands over the graph's parts, each sent while the next is made.
    public func installFresh(_ lowering: (_ part: (GraphPart) -> Void) -> Void) throws(ApplyError) -> Applied {
        let install = FreshInstall(applier: self)
        lowering { install.add($0) }
        return try install.finish()
    }
}
