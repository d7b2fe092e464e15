import Foundation

/// A file's bytes in a private, read-only buffer, kept alive for as long as objects still
/// to be parsed from them exist. A UTF-8 byte order mark at the start is dropped.
///
/// The file is read, not mapped: a mapping shows later writes to the file, so a List
/// item checked once could differ when parsed again (a precondition failure), and a file
/// truncated during the run raised SIGBUS. Reading an 86 MB List costs about 0.08 s more
/// than mapping it (read 0.07-0.09 s; mmap with MAP_POPULATE under 0.01 s; warm page
/// cache, 2 cores, 2026-12), about a tenth of its compile. A file changed while it is
/// read gives at worst a syntax or model error naming it.
public final class ManifestBytes: @unchecked Sendable {
    public let buffer: UnsafeBufferPointer<UInt8>
    private let allocation: UnsafeMutableBufferPointer<UInt8>

    public convenience init(_ bytes: [UInt8]) {
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = copy.initialize(from: bytes)
        self.init(owning: copy, count: bytes.count)
    }

    private init(owning allocation: UnsafeMutableBufferPointer<UInt8>, count: Int) {
        let base = allocation.baseAddress!
        let skip = count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF ? 3 : 0
        self.allocation = allocation
        buffer = UnsafeBufferPointer(start: base + skip, count: count - skip)
    }

    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Reads a regular file, or a pipe (`<(cmd)`, `/dev/stdin`, a FIFO) to its end.
    /// Devices and directories are refused; a FIFO nobody writes to reads as empty
    /// instead of blocking in `open`.
    public convenience init(reading file: String) throws(InputError) {
        let fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(file: file, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        try self.init(descriptor: fd, name: file)
    }

    /// Reads an open descriptor to its end (standard input: `name` is `<stdin>`).
    public convenience init(descriptor fd: Int32, name file: String) throws(InputError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(file: file, reason: String(cString: strerror(errno))) }
        let type = info.st_mode & S_IFMT
        let isTerminal = isatty(fd) == 1
        // Other devices could be endless (/dev/zero): only /dev/null is read.
        var null = stat()
        let isNull = type == S_IFCHR && stat("/dev/null", &null) == 0 && info.st_rdev == null.st_rdev
        guard type == S_IFREG || type == S_IFIFO || type == S_IFSOCK || isTerminal || isNull else {
            throw .unreadable(file: file, reason: type == S_IFDIR ? "is a directory" : "not a regular file or pipe")
        }
        // Opened non-blocking only so that a FIFO without a writer does not hang `open`.
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0, flags & O_NONBLOCK != 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        var capacity = max(Int(type == S_IFREG ? info.st_size : 0) + 1, 1 << 16)
        var storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: capacity)
        var count = 0
        if type == S_IFREG, info.st_size >= 8 << 20, ProcessInfoLite.activeProcessorCount > 1 {
            let offset = Int(lseek(fd, 0, SEEK_CUR))  // standard input may be a file read partly
            if offset >= 0, offset < Int(info.st_size) {
                count = Self.readInHalves(fd, into: storage, from: offset, size: Int(info.st_size) - offset)
            }
        }
        while true {
            if count == capacity {
                // The file grew while being read, or a pipe: grow geometrically.
                let bigger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.baseAddress!.initialize(from: storage.baseAddress!, count: count)
                storage.deallocate()
                storage = bigger
                capacity *= 2
            }
            let got = read(fd, storage.baseAddress! + count, capacity - count)
            if got < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                storage.deallocate()
                throw .unreadable(file: file, reason: reason)
            }
            if got == 0 { break }
            count += got
        }
        self.init(owning: storage, count: count)
    }

    /// Reads `size` bytes of a regular file from `offset` as two halves on two cores, and
    /// leaves the file offset after them; how many bytes were read (0, with the offset
    /// where it was, when a half came back short: the file shrank, and the caller reads
    /// it in one piece). Reading was the one phase of a compile on a single core, nearly
    /// all of it the kernel's copy into fresh pages (10,000 x 10, 90 MB, `svc2nft-bench
    /// phases`, 3 runs each, quiet machine: read 0.050-0.051 s -> 0.028-0.034 s).
    private static func readInHalves(
        _ fd: Int32, into storage: UnsafeMutableBufferPointer<UInt8>, from offset: Int, size: Int
    ) -> Int {
        let base = UInt(bitPattern: storage.baseAddress!)
        let middle = size / 2
        @Sendable func readFully(_ range: Range<Int>) -> Bool {
            var at = range.lowerBound
            while at < range.upperBound {
                let got = pread(
                    fd, UnsafeMutableRawPointer(bitPattern: base + UInt(at)), range.upperBound - at, off_t(offset + at))
                if got < 0, errno == EINTR { continue }
                if got <= 0 { return false }
                at += got
            }
            return true
        }
        let (first, second) = Parallel.pair { readFully(0..<middle) } _: { readFully(middle..<size) }
        guard first, second else { return 0 }
        lseek(fd, off_t(offset + size), SEEK_SET)
        return size
    }

    deinit { allocation.deallocate() }
}
