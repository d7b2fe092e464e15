import Foundation
import Svc2NftCore
import Svc2NftNetlink

/// Other processes' changes to our tables, for `apply --follow`'s poll loop: a
/// `RulesetMonitor` reports them on its own thread, queued here, with a byte written to
/// a pipe whose read end the loop polls beside standard input.
final class ForeignChanges: @unchecked Sendable {
    private let monitor: RulesetMonitor
    private let pipeEnds: [Int32]
    private let lock = NSLock()
    private var queued: [ForeignChange] = []

    /// nil (with a warning) where the kernel refuses to notify us.
    init?(tables: [(TableFamily, String)], applier: Applier) {
        var ends: [Int32] = [0, 0]
        do {
            monitor = try RulesetMonitor(tables: tables, ignoringCommitsOf: applier)
        } catch {
            Pipeline.printError("warning: cannot listen for nftables changes (\(error)); changes by others stay until the next apply")
            return nil
        }
        guard pipe(&ends) == 0 else { return nil }
        _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
        pipeEnds = ends
        monitor.start { [self] change in
            lock.withLock { queued.append(change) }
            var byte: UInt8 = 1
            _ = write(pipeEnds[1], &byte, 1)
        }
    }

    /// What `poll` waits on.
    var descriptor: Int32 { pipeEnds[0] }

    /// The changes reported since the last call.
    func take() -> [ForeignChange] {
        var drain = [UInt8](repeating: 0, count: 256)
        while read(pipeEnds[0], &drain, drain.count) > 0 {}
        return lock.withLock {
            defer { queued = [] }
            return queued
        }
    }

    func stop() {
        monitor.stop()
    }

    deinit {
        close(pipeEnds[0])
        close(pipeEnds[1])
    }
}
