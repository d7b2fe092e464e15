import Foundation

/// A file's bytes, read-only, kept alive for as long as objects still to be parsed from
/// them exist: a regular file is mapped (a 90 MB List is not copied), anything else copied.
public final class ManifestBytes: @unchecked Sendable {
    public let buffer: UnsafeBufferPointer<UInt8>
    private let mapped: Bool

    public init(_ bytes: [UInt8]) {
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = copy.initialize(from: bytes)
        buffer = UnsafeBufferPointer(copy)
        mapped = false
    }

    /// Maps a regular file read-only.
    public init(mapping file: String) throws(InputError) {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { throw .unreadable(file: file, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(file: file, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            self.buffer = UnsafeBufferPointer(start: nil, count: 0)
            mapped = false
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED else {
            throw .unreadable(file: file, reason: String(cString: strerror(errno)))
        }
        buffer = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: size)
        mapped = true
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: buffer.baseAddress), buffer.count)
        } else {
            buffer.deallocate()
        }
    }
}
