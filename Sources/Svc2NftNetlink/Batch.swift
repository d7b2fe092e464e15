import CNftnl
import Glibc
import Svc2NftCore

/// A netlink batch under construction. libnftnl writes each message straight into
/// `MessageBuffer` chunks (no page copies, however large: about 100 MB for 10,000
/// Services). Every message gets the next sequence number, remembered with the graph
/// object it was built from.
///
/// A batch can also be a *fragment*: messages built on another core (no begin or end
/// message, numbered from 0, anonymous-set ids from their own range), appended to the
/// real batch with `append(_:)`, which renumbers them in place.
struct Batch: ~Copyable {
    private var buffer = MessageBuffer()
    private let firstSequence: UInt32
    private var sequence: UInt32
    /// The graph object of message `firstSequence + i`.
    private var objects: [GraphObject] = []
    private(set) var messageCount = 0
    private var nextSetID: UInt32

    init() {
        firstSequence = 1
        sequence = 1
        nextSetID = 1
        objects.append(.batch)
        let start = buffer.reserve()
        nftnl_batch_begin(start.assumingMemoryBound(to: CChar.self), sequence)
        buffer.commit(start)
        sequence += 1
    }

    /// A fragment whose anonymous sets take ids from `setIDs` up (disjoint from every
    /// other fragment's and from the batch's own, which count up from 1).
    init(fragmentWithSetIDsFrom setIDs: UInt32) {
        firstSequence = 0
        sequence = 0
        nextSetID = setIDs
    }

    /// A set id, unique within this batch (anonymous sets are found by it).
    mutating func newSetID() -> UInt32 {
        defer { nextSetID += 1 }
        return nextSetID
    }

    /// Appends one message: header, then `payload` fills it in.
    mutating func add(
        _ type: nf_tables_msg_types, family: UInt16, flags: Int32, object: GraphObject, payload: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        let start = buffer.reserve()
        let header = nftnl_nlmsg_build_hdr(
            start.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue), family, UInt16(flags), sequence)!
        payload(header)
        buffer.commit(start)
        objects.append(object)
        messageCount += 1
        sequence += 1
    }

    /// A finished fragment: its messages, numbered from 0, and their objects.
    consuming func fragment() -> Fragment {
        Fragment(buffer: buffer, objects: objects)
    }

    /// Appends a fragment's messages, renumbered to follow this batch's.
    mutating func append(_ fragment: consuming Fragment) {
        fragment.buffer.renumber(adding: sequence)
        buffer.append(fragment.buffer)
        objects.append(contentsOf: fragment.objects)
        sequence += UInt32(fragment.objects.count)
        messageCount += fragment.objects.count
    }

    /// Closes the batch: its bytes in a few chunks (one iovec each; sendmsg takes at most
    /// 1,024, and a chunk holds megabytes). Without `commit` the end message is left out,
    /// so the kernel checks every message and then aborts the transaction (`KernelProbe`).
    consuming func finalize(commit: Bool = true) -> FinalizedBatch {
        if commit {
            let start = buffer.reserve()
            nftnl_batch_end(start.assumingMemoryBound(to: CChar.self), sequence)
            buffer.commit(start)
            objects.append(.batch)
        }
        return FinalizedBatch(buffer: buffer, objects: SequenceObjects(first: firstSequence, objects: objects), messageCount: messageCount)
    }
}

/// Messages built apart by a `Batch` fragment, waiting to be appended.
struct Fragment: Sendable {
    let buffer: MessageBuffer
    let objects: [GraphObject]
}

/// Which graph object each sequence number of a batch stands for.
public struct SequenceObjects: Sendable {
    let first: UInt32
    let objects: [GraphObject]

    public subscript(sequence: UInt32) -> GraphObject? {
        guard sequence >= first, Int(sequence - first) < objects.count else { return nil }
        return objects[Int(sequence - first)]
    }

    /// Every sequence number, in order.
    var sequences: Range<UInt32> { first..<first + UInt32(objects.count) }
}

/// A finished batch: the bytes to send, and which graph object each sequence number
/// stands for, so a kernel error on message s names its object.
public struct FinalizedBatch: Sendable {
    let buffer: MessageBuffer
    public let objects: SequenceObjects
    /// Messages between begin and end.
    public let messageCount: Int

    public var byteCount: Int { buffer.byteCount }

    /// The messages, in order, in a few chunks (each holds whole messages); valid while
    /// the batch lives.
    var chunks: [UnsafeRawBufferPointer] { buffer.storage.chunks.map { UnsafeRawBufferPointer(start: $0.base, count: $0.count) } }

    /// All bytes in one array (for tests and tools; sending uses the chunks).
    public var bytes: [UInt8] { chunks.flatMap { Array($0) } }

    /// Sequence numbers of the content messages, in order (begin and end excluded).
    public var contentSequences: [UInt32] {
        objects.sequences.filter { objects[$0] != .batch }
    }
}
