import Foundation
import Svc2NftAgent
import Svc2NftCore
import Svc2NftNetlink

/// `apply --follow`: applies the input files, then reads changed objects from standard
/// input (plain objects, Lists or watch events, as `kubectl get --watch -o json
/// --output-watch-events` prints them) and, once input has been quiet for the sync
/// delay, sends only what changed. Keeps each Service's lowering and what it applied,
/// so a change costs the Services it touches, not the cluster.
struct Follower {
    /// Quiet time before a sync, and the longest a change waits under steady input.
    let delayMilliseconds: Int32
    let maxWait: Duration
    var syncer: Syncer
    /// Health and metrics (`--healthz-bind-address`, `--metrics-bind-address`): told what
    /// `run`'s agent tells them.
    var observer: (any AgentObserver)? = nil
    /// Repairs other processes' changes to our tables at once, as `run` does (`ForeignChanges`).
    var selfHealing = true

    init(node: NodeConfig, applier: Applier, delayMilliseconds: Int) {
        self.delayMilliseconds = Int32(delayMilliseconds)
        maxWait = .milliseconds(max(10 * delayMilliseconds, 1000))
        syncer = Syncer(node: node, applier: applier)
    }

    /// Runs until standard input ends; returns the exit status (1 if the last sync failed).
    mutating func run(initial: [RawObject]) -> Int32 {
        // Validated already (an object skipped by --keep-going was reported then). As in
        // `compile`, the first of two objects with the same kind and name counts.
        var seen: Set<String> = []
        for object in initial where seen.insert("\(object.kind) \(object.displayName)").inserted {
            record(ObjectEvent(change: .upsert, object: object), quietly: true)
        }
        if !initial.isEmpty { sync() }
        let tables = IPFamily.allCases.map { (TableFamily($0), syncer.node.tableName) }
        let foreign = selfHealing ? ForeignChanges(tables: tables, applier: syncer.applier) : nil
        defer { foreign?.stop() }
        var stream = DocumentStream(file: ManifestReader.stdinName)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let clock = ContinuousClock()
        var firstPending: ContinuousClock.Instant? = nil
        /// When a repair is due: at once after a foreign change, unless the last repair
        /// was under a second ago (a process undoing every repair must not start a busy loop).
        var repairDue: ContinuousClock.Instant? = nil
        var lastRepair: ContinuousClock.Instant? = nil
        while true {
            var descriptors = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0)]
            if let foreign { descriptors.append(pollfd(fd: foreign.descriptor, events: Int16(POLLIN), revents: 0)) }
            var timeout = syncer.pending.isEmpty ? -1 : delayMilliseconds
            if let due = repairDue {
                let left = max(0, Int32((due - clock.now) / .milliseconds(1)))
                timeout = timeout < 0 ? left : min(timeout, left)
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
            if let due = repairDue, clock.now >= due {
                sync(repair: true)
                repairDue = nil
                lastRepair = clock.now
                firstPending = nil
                continue
            }
            if ready == 0 {
                sync()
                firstPending = nil
                continue
            }
            if let foreign, descriptors.count > 1, descriptors[1].revents != 0 {
                for change in foreign.take() {
                    Pipeline.printError("warning: \(change); repairing")
                    observer?.foreignChange(change)
                }
                if repairDue == nil { repairDue = max(clock.now, (lastRepair ?? clock.now - .seconds(1)) + .seconds(1)) }
                if descriptors[0].revents == 0 { continue }
            }
            let count = read(0, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            stream.append(buffer[0..<count])
            while true {
                do {
                    guard let events = try stream.next() else { break }
                    for event in events { record(event) }
                } catch {
                    Pipeline.printError("error: \(error) (document ignored)")
                }
            }
            if !syncer.pending.isEmpty {
                let now = clock.now
                if let first = firstPending, now - first > maxWait {
                    sync()
                    firstPending = nil
                } else if firstPending == nil {
                    firstPending = now
                }
            }
        }
        if stream.hasPartialDocument { Pipeline.printError("warning: standard input ended inside a document; ignored") }
        if !syncer.pending.isEmpty || syncer.needsFull { sync() }
        return syncer.needsFull ? 1 : 0
    }

    mutating func record(_ event: ObjectEvent, quietly: Bool = false) {
        // Parsed once: the store and the observer both read the tree.
        let event = ObjectEvent(change: event.change, object: event.object.parsed)
        do {
            try syncer.record(event)
            observer?.changeQueued([event.object])
        } catch {
            observer?.objectSkipped(error)
            if !quietly { Pipeline.printError("error: \(error) (object ignored, its previous version stays)") }
        }
    }

    /// Sends the differences (or everything, when the kernel's state is not known); with
    /// `repair`, a full sync that reads the live rules and rewrites what another process
    /// changed (it applies pending changes too).
    mutating func sync(repair: Bool = false) {
        do {
            let report = try syncer.sync(repair: repair)
            observer?.synced(report)
            if repair { observer?.repaired(report) }
            if let observer { observer.clusterSynced(syncer.store.cluster, node: syncer.node) }
            Pipeline.printError(report.description)
            if let cleaned = report.conntrack { Pipeline.printError(cleaned.logLine) }
        } catch {
            observer?.syncFailed(error)
            Pipeline.printError("error: \(repair ? "repair failed: " : "")\(error); the next sync reads the kernel and applies in full")
        }
    }
}
