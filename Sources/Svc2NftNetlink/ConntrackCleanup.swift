import Foundation
import Svc2NftCore

/// What one conntrack cleanup did. `failures` counts a dump that failed (then nothing
/// was removed) and each deletion the kernel refused; a cleanup never fails an apply.
public struct ConntrackCleanupResult: Sendable, Equatable {
    /// Entries read: those of the families and protocols that have frontends (on a
    /// kernel before 5.8, which cannot filter dumps, every entry).
    public var read = 0
    /// Stale UDP and SCTP entries found.
    public var stale = 0
    public var removed = 0
    public var failures = 0
    /// The first failure, for the log.
    public var error: String? = nil
    public var seconds = 0.0

    public init() {}

    /// One line for stderr: `conntrack: removed N stale UDP entries …`.
    public var logLine: String {
        var line = "conntrack: removed \(removed) stale UDP entr\(removed == 1 ? "y" : "ies") (\(read) read"
        line += String(format: ", %.1f ms)", seconds * 1000)
        if let error { line += "; \(failures) failure\(failures == 1 ? "" : "s"): \(error)" }
        return line
    }
}

/// Deletes stale UDP and SCTP conntrack entries after an apply (see `ServiceBackends`
/// for which): the UDP/SCTP entries are read once (filtered in the kernel, see
/// `ConntrackTable.dump`), then each stale one is deleted. Stateless, so
/// a one-shot `apply` and every sync of a long-running agent use the same rule; a
/// restart with an unchanged cluster finds nothing stale.
public enum ConntrackCleanup {
    /// The policy: whether `entry` is stale under `backends`. Pure.
    public static func isStale(_ entry: ConntrackEntry, _ backends: ServiceBackends) -> Bool {
        guard let proto = entry.l4Protocol, ServiceBackends.protocols.contains(proto) else { return false }
        return backends.isStale(
            protocol: proto, destination: entry.destination, destinationPort: entry.destinationPort, replySource: entry.replySource)
    }

    /// Cleans this network namespace's table; never throws (failures are counted).
    /// Without UDP or SCTP frontends that have endpoints nothing can be stale, and the
    /// table is not read.
    public static func run(_ backends: ServiceBackends) -> ConntrackCleanupResult {
        var result = ConntrackCleanupResult()
        guard !backends.isEmpty else { return result }
        let start = ContinuousClock.now
        do {
            let table = try ConntrackTable()
            let kinds = backends.families.map { (family: $0.family, protocol: $0.protocol.number) }
            let selected: SelectedEntries
            do {
                selected = try table.dump(kinds) { isStale($0, backends) }
            } catch .dump(errno: EINTR) {
                // A signal during the dump's receive fails it with EINTR: read once more
                // rather than leave stale entries until the next change.
                selected = try table.dump(kinds) { isStale($0, backends) }
            }
            result.read = selected.read
            result.stale = selected.pointers.count
            let (removed, failures) = table.delete(selected)
            result.removed = removed
            result.failures = failures.count
            if let first = failures.first { result.error = "deleting an entry failed: \(String(cString: strerror(first)))" }
        } catch {
            result.failures += 1
            result.error = error.description
        }
        let elapsed = (ContinuousClock.now - start).components
        result.seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        return result
    }
}

/// Runs `ConntrackCleanup` after the syncs of a long-running agent (`apply --follow`,
/// `run`) whose UDP/SCTP frontends or endpoints changed since the last cleanup that
/// succeeded (kube-proxy cleans only when UDP endpoints changed), and keeps totals for
/// metrics. Keeps each Service's `ServiceBackends.Part`, so a sync costs the Services it
/// touched; the first cleanup always runs (entries may predate the agent).
///
/// Use: `record(touched, from: store)` for every batch of changed Services (also when
/// their apply then fails), `clean(node:)` after each successful apply.
public struct ConntrackCleaner: Sendable {
    private var parts: [ServiceID: ServiceBackends.Part] = [:]
    /// Parts changed since the last cleanup that succeeded.
    public private(set) var needsCleaning = true
    public private(set) var removedTotal = 0
    public private(set) var failuresTotal = 0

    public init() {}

    /// Updates the parts of `touched` Services from `store` (a deleted Service drops out).
    public mutating func record(_ touched: some Sequence<ServiceID>, from store: ClusterStore) {
        for id in touched {
            let part = store.services[id].map { ServiceBackends.part(of: $0, slices: store.slices(of: id)) }
            let kept = part?.isEmpty == false ? part : nil
            if parts[id] != kept {
                parts[id] = kept
                needsCleaning = true
            }
        }
    }

    /// Cleans if anything changed; nil when skipped (nothing changed, or no UDP/SCTP
    /// frontend has endpoints: nothing can be stale, and there is no line to log).
    public mutating func clean(node: NodeConfig) -> ConntrackCleanupResult? {
        guard needsCleaning else { return nil }
        let backends = ServiceBackends(parts: parts.values, node: node)
        guard !backends.isEmpty else {
            needsCleaning = false
            return nil
        }
        let result = ConntrackCleanup.run(backends)
        removedTotal += result.removed
        failuresTotal += result.failures
        if result.failures == 0 { needsCleaning = false }
        return result
    }
}
