import Foundation

/// One svc2nft writes a network namespace's rules at a time: `run` and `apply` hold an
/// exclusive `flock` on a file named after the namespace, so a second one fails with a
/// message instead of fighting the first. Released when the process ends, however it ends.
public final class NodeLock {
    let descriptor: Int32
    public let path: String

    /// `/run/svc2nft/<network namespace inode>.lock`: nftables tables belong to a network
    /// namespace, so two namespaces (two test nodes, containers) do not exclude each other.
    public static func defaultPath() -> String {
        var info = stat()
        let namespace = stat("/proc/self/ns/net", &info) == 0 ? String(info.st_ino) : "default"
        return "/run/svc2nft/netns-\(namespace).lock"
    }

    /// This network namespace's `AppliedRecord`, beside its lock.
    public static func appliedRecordPath() -> String {
        String(defaultPath().dropLast(".lock".count)) + ".applied"
    }

    public init(path: String = NodeLock.defaultPath()) throws(NodeLockError) {
        self.path = path
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw .held(path, by: holder ?? "")
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        descriptor = fd
    }

    deinit { close(descriptor) }
}

/// Why the node lock could not be taken.
public enum NodeLockError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(String, errno: Int32)
    case held(String, by: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno) where errno == EACCES || errno == EPERM || errno == EROFS:
            "\(path): cannot open the lock file: \(String(cString: strerror(errno))); svc2nft needs root or CAP_NET_ADMIN, and write access to \((path as NSString).deletingLastPathComponent)"
        case .cannotOpen(let path, let errno): "\(path): cannot open the lock file: \(String(cString: strerror(errno)))"
        case .held(let path, let holder):
            "another svc2nft\(holder.isEmpty ? "" : " (pid \(holder))") is writing this node's rules (\(path) is locked); stop it first"
        }
    }
}
