import Svc2NftCore

/// The transactions of a fresh install, when the kernel has none of our tables: the
/// kernel commits the first while the second is still being encoded (it spends over
/// three seconds on 10,000 Services, on one core; encoding the rules takes a third of
/// a second on two).
///
/// Packets meet nothing new before the last commit: until then the base chains have no
/// rules and accept every packet, and nothing else is reachable. The last commit adds
/// the base chains' rules, and every chain they lead to has all its rules by then, in
/// both of the kernel's generations (a commit copies unchanged chains' rules into the
/// next one). Chains and sets are created in graph order, so `nft list` shows the
/// same as after one transaction (or `nft -f` of `compile`).
public enum FreshInstall {
    /// One transaction of a fresh install, in the order they are sent.
    public enum Stage: CaseIterable, Sendable {
        /// Tables, every chain (base chains without rules), every set with its elements.
        case structure
        /// The rules of every chain that is not a base chain.
        case rules
        /// The base chains' rules: from this commit on, packets use the new tables.
        case hooks
    }

    /// The batch of one stage for every table of `graph`.
    public static func batch(_ stage: Stage, of graph: RuleGraph, fault: GraphEncoder.Fault? = nil) -> FinalizedBatch {
        var batch = Batch()
        for table in graph.tables {
            switch stage {
            case .structure:
                GraphEncoder.addTable(table.family, table.name, comment: table.comment, into: &batch)
                GraphEncoder.inParallel(table.chains, into: &batch) { chain, batch in
                    GraphEncoder.addChain(chain, table: table, into: &batch)
                }
                for set in table.sets { GraphEncoder.encode(set, table: table, create: true, into: &batch) }
            case .rules, .hooks:
                let base = stage == .hooks
                GraphEncoder.inParallel(table.chains, into: &batch) { chain, batch in
                    guard (chain.kind != .regular) == base else { return }
                    GraphEncoder.addRules(of: chain, table: table, fault: fault, into: &batch)
                }
            }
        }
        return batch.finalize()
    }
}

extension Applier {
    /// Installs `graph` where the kernel has none of its tables, in `FreshInstall`'s
    /// stages: the structure is sent while the rules are encoded. If the kernel refuses
    /// a later stage, the tables the earlier ones made are deleted again, so a refused
    /// install leaves no table behind.
    func installFresh(_ graph: RuleGraph, fault: GraphEncoder.Fault?) throws(ApplyError) -> Applied {
        let structure = FreshInstall.batch(.structure, of: graph, fault: fault)
        let sender = UncheckedSendable(self)
        let (sent, rules) = Parallel.pair {
            Result { () throws(ApplyError) in try sender.value.commit(structure) }
        } _: {
            FreshInstall.batch(.rules, of: graph, fault: fault)
        }
        try sent.get()
        var batches = [structure, rules]
        do {
            try commit(rules)
            let hooks = FreshInstall.batch(.hooks, of: graph, fault: fault)
            batches.append(hooks)
            try commit(hooks)
        } catch {
            var undo = Batch()
            for table in graph.tables {
                GraphEncoder.addTable(table.family, table.name, comment: nil, into: &undo)
                GraphEncoder.deleteTable(table.family, table.name, into: &undo)
            }
            do {
                try commit(undo.finalize())
            } catch let undo {
                throw .partlyInstalled(cause: error, undo: undo)
            }
            throw error
        }
        return Applied(plan: GraphEncoder.Plan(batches: batches, created: graph.chainCount))
    }
}

/// Hands a value that is used from one thread at a time to another thread.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
