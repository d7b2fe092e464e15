import CNftnl
import Svc2NftCore

extension GraphEncoder {
    /// The batch for `TableChange`s (`apply --follow`): one transaction, ordered as an
    /// update (see the type's comment): new chains and sets, rules of new chains,
    /// changed chains rewritten under their old names, shared-map elements removed then
    /// added, removed chains and sets deleted, changed chains renamed. `handles` gives
    /// the kernel handle of each changed chain's old version.
    public static func plan(_ changes: [TableChange], handles: [TableFamily: [String: UInt64]], fault: Fault? = nil) -> Plan {
        var batch = Batch()
        var tally = Tally()
        for change in changes {
            let family = change.family
            let table = Table(family: family, name: change.table, comment: nil, sets: [], chains: [])
            let oldNames = Dictionary(uniqueKeysWithValues: change.renamedChains.map { ($0.new.name, $0.old.name) })
            addTable(family, change.table, comment: nil, into: &batch)
            for chain in change.addedChains { addChain(chain, table: table, into: &batch) }
            for set in change.addedSets { encode(set.retargeted(oldNames), table: table, create: true, into: &batch) }
            for chain in change.addedChains { addRules(of: chain.retargeted(oldNames), table: table, fault: fault, into: &batch) }
            for renamed in change.renamedChains {
                rewrite(renamed.old.name.text, as: renamed.new.retargeted(oldNames), table: table, fault: fault, into: &batch)
            }
            for (set, elements) in change.elements.sorted(by: { $0.key < $1.key }) {
                addElements(elements.removed, to: set, delete: true, family: family, table: change.table, into: &batch)
                addElements(elements.added.map { $0.retargeted(oldNames) }, to: set, family: family, table: change.table, into: &batch)
            }
            remove(
                chains: change.removedChains.map { ($0.name.text, $0.owner) }, sets: change.removedSets.map(\.name.text), family: family,
                table: change.table, into: &batch)
            for renamed in change.renamedChains {
                guard let handle = handles[family]?[renamed.old.name.text] else { continue }
                renameChain(family, change.table, handle: handle, to: renamed.new, into: &batch)
            }
            tally.created += change.addedChains.count
            tally.rewritten += change.renamedChains.count
            tally.deleted += change.removedChains.count
        }
        return Plan(batches: [batch.finalize()], created: tally.created, rewritten: tally.rewritten, deleted: tally.deleted)
    }
}
