import Svc2NftCore

/// The kernel's answer to one message: its sequence number and errno (0 for an ack).
public struct NetlinkAck: Equatable, Sendable {
    public let sequence: UInt32
    public let errno: Int32

    public init(sequence: UInt32, errno: Int32) {
        self.sequence = sequence
        self.errno = errno
    }
}

/// Where finished batches go: the kernel (`MNLTransport`), or `NftFake` (an in-memory
/// nf_tables with the kernel's rules) for tests.
public protocol NetfilterTransport: AnyObject {
    /// Sends a batch and returns every error the kernel reported (no acks for success).
    func send(_ batch: FinalizedBatch) throws(ApplyError) -> [NetlinkAck]

    /// The kernel's ruleset generation (see `AppliedRecord`).
    func generation() throws(ApplyError) -> RulesetGeneration?

    /// Whether the kernel has our table of `family` (a quick question: no chains read).
    func exists(_ family: TableFamily, table: String) throws(ApplyError) -> Bool

    /// Our table of `family` as the kernel has it now (chains, sets, the elements of
    /// sets that are not dynamic); nil when it does not exist.
    func state(of family: TableFamily, table: String) throws(ApplyError) -> TableState?

    /// One chain's handle (a rename needs it); nil when there is no such chain.
    func chainHandle(_ family: TableFamily, table: String, chain: String) throws(ApplyError) -> UInt64?
}

/// A transport that can also read a table's rules and elements back (for `diff`).
public protocol NetfilterReader {
    func live(_ family: TableFamily, table: String) throws(ApplyError) -> LiveTable?
}

extension NetfilterTransport {
    /// The kernel's ruleset generation now; nil where it cannot be known (then
    /// `AppliedRecord` is never trusted).
    public func generation() throws(ApplyError) -> RulesetGeneration? { nil }
}
