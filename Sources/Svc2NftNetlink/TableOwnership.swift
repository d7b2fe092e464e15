import CNftnl
import Glibc
import Svc2NftCore

/// Our tables owned by the agent's netlink socket (`NFT_TABLE_F_OWNER`) and kept when it
/// exits (`NFT_TABLE_F_PERSIST`, Linux 6.9 and later): while `run` holds them, no other
/// process can change or delete them (`nft delete table` gets EPERM) and `nft flush
/// ruleset` skips them, so another tool's reload costs Services nothing, instead of an
/// outage until the repair (5.1 s at 10,000 Services). When the agent exits they stay,
/// unowned (an *orphan*: anyone may change them again), until the next agent takes them
/// back. Measured on kernel 6.18: a table created without `persist` can never be owned
/// later (EOPNOTSUPP), an orphan can; nft 1.0.6 lists an orphan as `flags ` (it does not
/// know `persist`), and an owned table as `flags owner` with `# progname svc2nft`.
public enum TableOwnership {
    /// `NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST`; Debian 12's kernel headers predate
    /// `NFT_TABLE_F_PERSIST` (0x4).
    static let flags: UInt32 = UInt32(NFT_TABLE_F_OWNER.rawValue) | 0x4

    /// One of our tables the agent could not take (it keeps running, unprotected).
    public struct Refusal: Sendable, Equatable, CustomStringConvertible {
        public let family: TableFamily
        public let table: String
        public let errno: Int32

        public var description: String {
            let why =
                errno == EOPNOTSUPP
                ? "it was made without the persist flag (by svc2nft apply or an older svc2nft); 'svc2nft delete' and a restart make it ownable"
                : errno == EPERM ? "another process owns it" : Errno.text(errno)
            return "cannot own table \(family.rawValue) \(table): \(why); others can flush or delete it, and self-healing repairs it"
        }
    }
}

extension Applier {
    /// Whether this kernel can own tables persistently: a scratch table with the flags,
    /// in a batch that is never committed (as `KernelProbe`).
    public func supportsTableOwnership() throws(ApplyError) -> Bool {
        var batch = Batch()
        Messages.addTable(.ip, KernelProbe.tableName, comment: nil, owned: true, into: &batch)
        let errors = try transport.send(batch.finalize(commit: false))
        if errors.contains(where: { $0.errno == EPERM }) { throw .permissionDenied }
        return errors.isEmpty
    }

    /// Takes ownership of those of `tables` the kernel has (one transaction each, so one
    /// refusal does not keep the other); returns the refusals. A table this socket owns
    /// already is left as it is.
    /// An `AppliedRecord` that held before stays valid (ownership is not part of the
    /// ruleset's fingerprint), moved to the generation after these commits.
    public func adopt(_ tables: [(TableFamily, String)]) throws(ApplyError) -> [TableOwnership.Refusal] {
        let before = generation()
        let record = recordPath.flatMap(AppliedRecord.load)
        var refusals: [TableOwnership.Refusal] = []
        var committed = 0
        for (family, name) in tables where try transport.exists(family, table: name) {
            var batch = Batch()
            Messages.addTable(family, name, comment: nil, owned: true, into: &batch)
            if let error = try transport.send(batch.finalize()).first {
                refusals.append(TableOwnership.Refusal(family: family, table: name, errno: error.errno))
            } else {
                committed += 1
            }
        }
        if let recordPath, let record, let before, record.generation == before {
            if let after = settled(since: before, commits: committed) {
                AppliedRecord(generation: after, fingerprint: record.fingerprint).save(recordPath)
            } else {
                AppliedRecord.remove(recordPath)
            }
        }
        return refusals
    }
}
