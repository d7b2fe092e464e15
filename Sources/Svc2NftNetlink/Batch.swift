import CNftnl
import Svc2NftCore

/// A netlink batch under construction: wraps libnftnl's paged `nftnl_batch`, so it grows
/// past any fixed buffer (tens of MB for 10,000 Services). Every message gets the next
/// sequence number, remembered with the graph object it was built from.
///
/// A batch can also be a *fragment*: messages built on another core (no begin or end
/// message, numbered from 0, anonymous-set ids from their own range), appended to the
/// real batch with `append(_:)`, which renumbers them in place.
struct Batch: ~Copyable {
    /// Page size and the room one message may overrun a page by. The largest message is
    /// an element chunk, kept under `GraphEncoder.maxElementBytes`.
    static let pageSize: UInt32 = 256 * 1024
    static let pageOverrun: UInt32 = 128 * 1024

    private var pointer: OpaquePointer
    /// Bytes already copied out of libnftnl's pages: the pages closed before each
    /// appended fragment, and the fragments.
    private var closed: [[UInt8]] = []
    private let firstSequence: UInt32
    private var sequence: UInt32
    /// The graph object of message `firstSequence + i`.
    private var objects: [GraphObject] = []
    private(set) var messageCount = 0
    private var nextSetID: UInt32

    init(firstSequence: UInt32 = 1) {
        pointer = Self.allocate()
        self.firstSequence = firstSequence
        sequence = firstSequence
        nextSetID = 1
        objects.append(.batch)
        nftnl_batch_begin(nftnl_batch_buffer(pointer).assumingMemoryBound(to: CChar.self), sequence)
        advance()
    }

    /// A fragment whose anonymous sets take ids from `setIDs` up (disjoint from every
    /// other fragment's and from the batch's own, which count up from 1).
    init(fragmentWithSetIDsFrom setIDs: UInt32) {
        pointer = Self.allocate()
        firstSequence = 0
        sequence = 0
        nextSetID = setIDs
    }

    private static func allocate() -> OpaquePointer {
        guard let pointer = nftnl_batch_alloc(pageSize, pageOverrun) else {
            preconditionFailure("nftnl_batch_alloc failed: out of memory")
        }
        return pointer
    }

    /// A set id, unique within this batch (anonymous sets are found by it).
    mutating func newSetID() -> UInt32 {
        defer { nextSetID += 1 }
        return nextSetID
    }

    private mutating func advance() {
        sequence += 1
        // nftnl_batch_update only fails when it cannot allocate the next page.
        precondition(nftnl_batch_update(pointer) >= 0, "nftnl_batch_update failed: out of memory")
    }

    /// Appends one message: header, then `payload` fills it in.
    mutating func add(
        _ type: nf_tables_msg_types, family: UInt16, flags: Int32, object: GraphObject, payload: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        let buffer = nftnl_batch_buffer(pointer).assumingMemoryBound(to: CChar.self)
        let header = nftnl_nlmsg_build_hdr(buffer, UInt16(type.rawValue), family, UInt16(flags), sequence)!
        payload(header)
        objects.append(object)
        messageCount += 1
        advance()
    }

    /// The pages written so far, copied into one array; starts on fresh pages.
    private mutating func takePages() -> [UInt8] {
        let count = Int(nftnl_batch_iovec_len(pointer))
        var iov = [iovec](repeating: iovec(), count: count)
        nftnl_batch_iovec(pointer, &iov, UInt32(count))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(iov.reduce(0) { $0 + $1.iov_len })
        for page in iov { bytes.append(contentsOf: UnsafeRawBufferPointer(start: page.iov_base, count: page.iov_len)) }
        nftnl_batch_free(pointer)
        pointer = Self.allocate()
        return bytes
    }

    /// A finished fragment: its bytes, numbered from 0, and its objects.
    consuming func fragment() -> Fragment {
        Fragment(bytes: takePages(), objects: objects)
    }

    /// Appends a fragment's messages, renumbered to follow this batch's.
    mutating func append(_ fragment: consuming Fragment) {
        let pages = takePages()
        if !pages.isEmpty { closed.append(pages) }
        var bytes = fragment.bytes
        Self.renumber(&bytes, from: sequence)
        closed.append(bytes)
        objects.append(contentsOf: fragment.objects)
        sequence += UInt32(fragment.objects.count)
        messageCount += fragment.objects.count
    }

    /// Adds `base` to the sequence number of every message in `bytes`.
    static func renumber(_ bytes: inout [UInt8], from base: UInt32) {
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset + 16 <= raw.count {
                let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                let sequence = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
                raw.storeBytes(of: sequence &+ base, toByteOffset: offset + 8, as: UInt32.self)
                precondition(length >= 16, "malformed netlink message in a batch fragment")
                offset += (length + 3) & ~3
            }
        }
    }

    /// Closes the batch. Its bytes come in a few chunks (libnftnl's pages coalesced: one
    /// iovec each, and sendmsg takes at most 1,024, however large the batch).
    consuming func finalize() -> FinalizedBatch {
        nftnl_batch_end(nftnl_batch_buffer(pointer).assumingMemoryBound(to: CChar.self), sequence)
        objects.append(.batch)
        advance()
        closed.append(takePages())
        return FinalizedBatch(chunks: closed, objects: SequenceObjects(first: firstSequence, objects: objects), messageCount: messageCount)
    }

    deinit { nftnl_batch_free(pointer) }
}

/// Messages built apart by a `Batch` fragment, waiting to be appended.
struct Fragment: Sendable {
    let bytes: [UInt8]
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
    /// The messages, in order, in a few chunks (each holds whole messages).
    public let chunks: [[UInt8]]
    public let objects: SequenceObjects
    /// Messages between begin and end.
    public let messageCount: Int

    public var byteCount: Int { chunks.reduce(0) { $0 + $1.count } }
    /// All bytes in one array (for tests and tools; sending uses the chunks).
    public var bytes: [UInt8] { chunks.flatMap { $0 } }

    /// Sequence numbers of the content messages, in order (begin and end excluded).
    public var contentSequences: [UInt32] {
        objects.sequences.filter { objects[$0] != .batch }
    }
}
