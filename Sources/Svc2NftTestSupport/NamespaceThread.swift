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
