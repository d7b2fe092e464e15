import CNftnl
import Svc2NftCore

/// A netlink batch under construction: wraps libnftnl's paged `nftnl_batch`, so it grows
/// past any fixed buffer (tens of MB for 10,000 Services). Every message gets the next
/// sequence number, remembered with the graph object it was built from.
struct Batch: ~Copyable {
    /// Page size and the room one message may overrun a page by. The largest message is
    /// an element chunk, kept under `ElementChunk.maxBytes`.
    static let pageSize: UInt32 = 256 * 1024
    static let pageOverrun: UInt32 = 128 * 1024

    private var pointer: OpaquePointer?
    private var sequence: UInt32
    private var objects: [UInt32: GraphObject] = [:]
    private(set) var messageCount = 0
    private var nextSetID: UInt32 = 1

    init(firstSequence: UInt32 = 1) {
        guard let pointer = nftnl_batch_alloc(Self.pageSize, Self.pageOverrun) else {
            preconditionFailure("nftnl_batch_alloc failed: out of memory")
        }
        self.pointer = pointer
        sequence = firstSequence
        objects[sequence] = .batch
        nftnl_batch_begin(nftnl_batch_buffer(pointer).assumingMemoryBound(to: CChar.self), sequence)
        advance()
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
        objects[sequence] = object
        messageCount += 1
        advance()
    }

    /// Closes the batch and copies its pages out.
    consuming func finalize() -> FinalizedBatch {
        let endSequence = sequence
        nftnl_batch_end(nftnl_batch_buffer(pointer).assumingMemoryBound(to: CChar.self), sequence)
        objects[endSequence] = .batch
        advance()
        let count = Int(nftnl_batch_iovec_len(pointer))
        var iov = [iovec](repeating: iovec(), count: count)
        nftnl_batch_iovec(pointer, &iov, UInt32(count))
        let pages = iov.map { Array(UnsafeRawBufferPointer(start: $0.iov_base, count: $0.iov_len)) }
        let result = FinalizedBatch(pages: pages, objects: objects, messageCount: messageCount)
        nftnl_batch_free(pointer)
        pointer = nil
        return result
    }

    deinit { if let pointer { nftnl_batch_free(pointer) } }
}

/// A finished batch: the bytes to send, and which graph object each sequence number
/// stands for, so a kernel error on message s names its object.
public struct FinalizedBatch: Sendable {
    public let pages: [[UInt8]]
    public let objects: [UInt32: GraphObject]
    /// Messages between begin and end.
    public let messageCount: Int

    public var byteCount: Int { pages.reduce(0) { $0 + $1.count } }

    /// Sequence numbers of the content messages, in order (begin and end excluded).
    public var contentSequences: [UInt32] {
        objects.filter { $0.value != .batch }.keys.sorted()
    }
}
