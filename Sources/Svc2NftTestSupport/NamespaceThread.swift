import Foundation

/// Runs code on a thread that has entered a network namespace, for sockets that must be
/// made inside one (a socket stays in the namespace it was made in, whichever thread
/// uses it later): the API double's listener, a netlink socket for in-process tests.
public enum NamespaceThread {
    /// glibc's `setns`, which Swift's Glibc module does not import (it needs `_GNU_SOURCE`).
    static let setns: @convention(c) (Int32, Int32) -> Int32 = unsafeBitCast(
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns")!, to: (@convention(c) (Int32, Int32) -> Int32).self)
    /// `CLONE_NEWNET` from <sched.h>.
    static let cloneNewNet: Int32 = 0x4000_0000

    /// `body`'s result, run inside the namespace named `namespace` (`ip netns` name), or
    /// in the current one when nil.
    public static func run<T>(in namespace: String?, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            outcome.result = Result {
                let original = open("/proc/self/ns/net", O_RDONLY)
                defer { close(original) }
                if let namespace {
                    let target = open("/run/netns/\(namespace)", O_RDONLY)
                    guard target >= 0, setns(target, cloneNewNet) == 0 else {
                        throw TestBedError(message: "setns \(namespace): \(String(cString: strerror(errno)))")
                    }
                    close(target)
                }
                defer { if namespace != nil { _ = setns(original, cloneNewNet) } }
                return try body()
            }
        }
        thread.start()
        done.wait()
        return try outcome.result.get()
    }
}

extension NamespaceThread {
    /// A TCP socket bound to `host`:`port` and listening, made in the network namespace
    /// `namespace` (the current one when nil).
    public static func listeningSocket(in namespace: String?, host: String, port: Int, backlog: Int32 = 64) throws -> Int32 {
        try run(in: namespace) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard fd >= 0, bound == 0, listen(fd, backlog) == 0 else {
                throw TestBedError(message: "listen on \(host):\(port): \(String(cString: strerror(errno)))")
            }
            return fd
        }
    }
}

/// What the namespace thread hands back.
private final class Outcome<T>: @unchecked Sendable {
    var result: Result<T, Error> = .failure(TestBedError(message: "not run"))
}

extension NetworkNamespace {
    /// `body`'s result, run on a thread inside this namespace (see `NamespaceThread`).
    public func inside<T>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        try NamespaceThread.run(in: name, body)
    }
}
