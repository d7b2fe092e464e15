import Svc2NftCore

/// The one encoder from plan to batch: `TableChange`s -> one netlink transaction,
/// whoever planned them (the kernel-state diff, incremental lowering, or a fresh
/// install's parts).
///
/// Order, so the kernel accepts every message and no packet meets a half-made state
/// (see `Versioning` for why chains are renamed rather than replaced): a new table; on a
/// reshaped table, every rule flushed and redefined objects deleted; new chains, new
/// sets with their elements, the new chains' rules; changed chains rewritten under
/// their old names; kept chains rewritten; kept sets' elements removed, then added;
/// removed chains' rules flushed (that drops their references), removed sets, removed
/// chains; renames last. Within the batch a renamed chain is called by its old name
/// (the kernel renames at commit), so rules and elements pointing at it are retargeted.
enum ChangeEncoder {
    /// Chain counts, for `GraphEncoder.Plan`.
    struct Tally {
        var created = 0, rewritten = 0, deleted = 0
    }

    /// Appends `change`'s messages to `batch`. `handles`: the kernel handle of each
    /// renamed chain's old version (a rename needs it). `owned`: a table it creates is
    /// owned by the sending socket (`TableOwnership`).
    static func encode(_ change: TableChange, handles: [String: UInt64], owned: Bool = false, into batch: inout Batch, tally: inout Tally) {
        guard !change.isEmpty else { return }
        let family = change.family
        let table = Table(family: family, name: change.table, comment: nil, sets: [], chains: [])
        let kernelNames = change.kernelNames
        if change.createsTable { Messages.addTable(family, change.table, comment: change.tableComment, owned: owned, into: &batch) }
        if change.flushesAllRules {
            Messages.flushRules(family, change.table, chain: nil, object: .table(family, change.table), into: &batch)
            for name in change.replacedSets { Messages.deleteSet(family, change.table, name.text, into: &batch) }
            for name in change.replacedChains { Messages.deleteChain(family, change.table, name.text, owner: nil, into: &batch) }
        }
        let added = change.addedChains
        Messages.inParallel(added, into: &batch) { chain, batch in Messages.addChain(chain, table: table, into: &batch) }
        for set in change.addedSets { Messages.addSet(set.retargeted(kernelNames), table: table, create: true, into: &batch) }
        Messages.inParallel(added, into: &batch) { chain, batch in
            Messages.addRules(of: chain.retargeted(kernelNames), table: table, into: &batch)
        }
        for renamed in change.renamedChains {
            let old = renamed.old.name.text
            Messages.flushRules(family, change.table, chain: old, object: .chain(family, renamed.new.name, renamed.new.owner), into: &batch)
            Messages.addRules(of: renamed.new.retargeted(kernelNames), table: table, as: old, into: &batch)
        }
        let flushed = change.flushesAllRules
        Messages.inParallel(change.rewrittenChains, into: &batch) { chain, batch in
            if !flushed {
                Messages.flushRules(family, table.name, chain: chain.name.text, object: .chain(family, chain.name, chain.owner), into: &batch)
            }
            Messages.addRules(of: chain.retargeted(kernelNames), table: table, into: &batch)
        }
        for (set, elements) in change.elements.sorted(by: { $0.key < $1.key }) {
            if elements.flushesFirst { Messages.flushElements(family, change.table, set.text, into: &batch) }
            Messages.addElements(elements.removed, to: set, delete: true, family: family, table: change.table, into: &batch)
            Messages.addElements(
                elements.added.map { $0.retargeted(kernelNames) }, to: set, family: family, table: change.table, into: &batch)
        }
        // Flushing a removed chain's rules drops its jumps, and removing the sets drops
        // their elements' verdicts: after that no removed chain is referenced, in any order.
        for chain in change.removedChains {
            Messages.flushRules(family, change.table, chain: chain.name.text, object: .chain(family, chain.name, chain.owner), into: &batch)
        }
        for name in change.removedSets { Messages.deleteSet(family, change.table, name.text, into: &batch) }
        for chain in change.removedChains {
            Messages.deleteChain(family, change.table, chain.name.text, owner: chain.owner, into: &batch)
        }
        for renamed in change.renamedChains {
            guard let handle = handles[renamed.old.name.text] else { continue }
            Messages.renameChain(family, change.table, handle: handle, to: renamed.new, into: &batch)
        }
        tally.created += change.addedChains.count
        tally.rewritten += change.renamedChains.count + change.rewrittenChains.count
        tally.deleted += change.removedChains.count
    }
}
