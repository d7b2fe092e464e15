import Glibc

/// Netlink messages in large chunks of memory written in place: a message starts where
/// the last one ended, and a new chunk is started when less than `headroom` is left
/// (the largest message, an element chunk, is kept far below it).
struct MessageBuffer: @unchecked Sendable {
    static let chunkSize = 8 << 20
    static let headroom = 128 * 1024

    /// The chunks and how much of each is used; freed by the last owner.
    private(set) var storage = Storage()
    private var end = 0

    final class Storage: @unchecked Sendable {
        var chunks: [(base: UnsafeMutableRawPointer, count: Int)] = []
        deinit { for chunk in chunks { free(chunk.base) } }
    }

    /// Where the next message goes, with at least `headroom` bytes free.
    mutating func reserve() -> UnsafeMutableRawPointer {
        if storage.chunks.isEmpty || Self.chunkSize - end < Self.headroom {
            guard let base = malloc(Self.chunkSize) else { preconditionFailure("out of memory for a netlink batch") }
            storage.chunks.append((base, 0))
            end = 0
        }
        return storage.chunks[storage.chunks.count - 1].base + end
    }

    /// Records the message just written at `start` (its length is in its header).
    mutating func commit(_ start: UnsafeMutableRawPointer) {
        let length = Int(start.load(as: UInt32.self))
        precondition(length >= 16 && end + length <= Self.chunkSize, "a netlink message overran its batch chunk")
        end += (length + 3) & ~3
        storage.chunks[storage.chunks.count - 1].count = end
    }

    /// Takes over `other`'s chunks after this buffer's; the next message starts a new chunk.
    mutating func append(_ other: MessageBuffer) {
        storage.chunks.append(contentsOf: other.storage.chunks)
        other.storage.chunks = []
        end = Self.chunkSize
    }

    /// Adds `base` to the sequence number of every message.
    func renumber(adding base: UInt32) {
        for chunk in storage.chunks {
            var offset = 0
            while offset + 16 <= chunk.count {
                let message = chunk.base + offset
                message.storeBytes(of: message.load(fromByteOffset: 8, as: UInt32.self) &+ base, toByteOffset: 8, as: UInt32.self)
                offset += (Int(message.load(as: UInt32.self)) + 3) & ~3
            }
        }
    }

    var byteCount: Int { storage.chunks.reduce(0) { $0 + $1.count } }
}
