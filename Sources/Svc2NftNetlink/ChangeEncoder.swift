import CNftnl
import Svc2NftCore

extension GraphEncoder {
    /// The batches for `TableChange`s (`apply --follow`), in the same three steps as an
    /// update: prepare the new chains and sets, switch the shared maps' elements
    /// (remove, then add: a changed element is both), clean up what is no longer used.
    /// Sends nothing about the rest of the table, and reads nothing from the kernel.
    public static func plan(_ changes: [TableChange]) -> Plan {
        var prepare = Batch(), main = Batch(), cleanup = Batch(), undo = Batch()
        for change in changes {
            let family = change.family
            let table = Table(family: family, name: change.table, comment: nil, sets: [], chains: [])
            if !change.addedChains.isEmpty || !change.addedSets.isEmpty {
                addTable(family, change.table, comment: nil, into: &prepare)
                for chain in change.addedChains { addChain(chain, table: table, into: &prepare) }
                for set in change.addedSets { encode(set, table: table, create: true, into: &prepare) }
                for chain in change.addedChains { addRules(of: chain, table: table, fault: nil, into: &prepare) }
                for set in change.addedSets { deleteSet(family, change.table, set.name.text, into: &undo) }
                deleteChains(change.addedChains.map { ($0.name.text, $0.owner) }, family: family, table: change.table, into: &undo)
            }
            addTable(family, change.table, comment: nil, into: &main)
            for (set, elements) in change.elements.sorted(by: { $0.key < $1.key }) {
                addElements(elements.removed, to: set, delete: true, family: family, table: change.table, into: &main)
                addElements(elements.added, to: set, family: family, table: change.table, into: &main)
            }
            if !change.removedChains.isEmpty || !change.removedSets.isEmpty {
                for chain in change.removedChains {
                    flushRules(family, change.table, chain: chain.name.text, object: .chain(family, chain.name, chain.owner), into: &cleanup)
                }
                for set in change.removedSets { deleteSet(family, change.table, set.name.text, into: &cleanup) }
                deleteChains(change.removedChains.map { ($0.name.text, $0.owner) }, family: family, table: change.table, into: &cleanup)
            }
        }
        func nonEmpty(_ batch: consuming Batch) -> FinalizedBatch? {
            batch.messageCount == 0 ? nil : batch.finalize()
        }
        return Plan(prepare: nonEmpty(prepare), main: main.finalize(), cleanup: nonEmpty(cleanup), undo: nonEmpty(undo))
    }
}
