import Foundation
import Svc2NftCore
import Svc2NftHealth
import Svc2NftNetlink

/// `apply --follow`: applies the input files, then reads changed objects from standard
/// input (plain objects, Lists or watch events, as `kubectl get --watch -o json
/// --output-watch-events` prints them) and, once input has been quiet for the sync
/// delay, sends only what changed. Keeps each Service's lowering and what it applied,
/// so a change costs the Services it touches, not the cluster.
struct Follower {
    let node: NodeConfig
    let applier: Applier
    /// Quiet time before a sync, and the longest a change waits under steady input.
    let delayMilliseconds: Int32
    let maxWait: Duration
    var store = ClusterStore()
    var lowering: IncrementalLowering
    var pending: Set<ServiceID> = []
    /// The kernel may not hold what `lowering` last produced (first sync, or a sync
    /// failed): read it and apply in full.
    var needsFull = true
    /// Health and metrics (`--healthz-bind-address`, `--metrics-bind-address`): told of
    /// each change, skipped object and sync.
    var observer: (any SyncObserver)? = nil
    /// Test-only (`SVC2NFT_TEST_FAULT_CHAIN`): the kernel refuses syncs touching this chain.
    var fault: GraphEncoder.Fault? = nil

    init(node: NodeConfig, applier: Applier, delayMilliseconds: Int) {
        self.node = node
        self.applier = applier
        self.delayMilliseconds = Int32(delayMilliseconds)
        maxWait = .milliseconds(max(10 * delayMilliseconds, 1000))
        lowering = IncrementalLowering(node: node)
    }

    /// Runs until standard input ends; returns the exit status (1 if the last sync failed).
    mutating func run(initial: [RawObject]) -> Int32 {
        // Validated already (an object skipped by --keep-going was reported then). As in
        // `compile`, the first of two objects with the same kind and name counts.
        var seen: Set<String> = []
        for object in initial where seen.insert(Self.identity(object)).inserted {
            record(ObjectEvent(change: .upsert, object: object), quietly: true)
        }
        if !initial.isEmpty { sync() }
        var stream = DocumentStream(file: ManifestReader.stdinName)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let clock = ContinuousClock()
        var firstPending: ContinuousClock.Instant? = nil
        while true {
            var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let timeout = pending.isEmpty ? -1 : delayMilliseconds
            if poll(&descriptor, 1, timeout) == 0 {
                sync()
                firstPending = nil
                continue
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
            if !pending.isEmpty {
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
        if !pending.isEmpty || needsFull { sync() }
        return needsFull ? 1 : 0
    }

    /// "Kind namespace/name" as the manifest says it (unvalidated: only for duplicates).
    static func identity(_ object: RawObject) -> String {
        func text(_ value: Value?) -> String { if case .string(let s)? = value { s } else { "" } }
        let metadata = object.value["metadata"]
        return "\(object.kind) \(text(metadata?["namespace"]))/\(text(metadata?["name"]))"
    }

    mutating func record(_ event: ObjectEvent, quietly: Bool = false) {
        // Parsed once: the store and the observer both read the tree.
        let event = ObjectEvent(change: event.change, object: event.object.parsed)
        do {
            let touched = try store.apply(event)
            pending.formUnion(touched)
            if !touched.isEmpty, let change = QueuedChange(event.object) { observer?.changeQueued(change) }
        } catch {
            observer?.objectSkipped()
            if !quietly { Pipeline.printError("error: \(error) (object ignored, its previous version stays)") }
        }
    }

    /// Lowers the touched Services again and sends the differences (or everything, when
    /// the kernel's state is not known).
    mutating func sync() {
        let start = ContinuousClock.now
        let touched = pending.count
        let changes = lowering.update(pending, from: store)
        pending = []
        let full = needsFull
        do {
            let applied: Applied
            if needsFull {
                applied = try applier.apply(lowering.graph(), fault: fault)
                needsFull = false
            } else {
                applied = try applier.apply(changes, fault: fault)
            }
            let plan = applied.plan
            observer?.synced(
                SyncOutcome(
                    full: full, duration: ContinuousClock.now - start, transactions: plan.batches.count, messages: plan.messageCount,
                    bytes: plan.byteCount),
                healthChecks: observer == nil ? [:] : ServiceHealthChecks.compute(store, node: node),
                noLocalEndpoints: observer == nil ? NoLocalEndpoints() : NoLocalEndpoints(store, node: node))
            let elapsed = (ContinuousClock.now - start).components
            Pipeline.printError(
                "applied\(full ? " (full)" : ""): \(touched) Service\(touched == 1 ? "" : "s") changed"
                    + "; sent \(applied.plan.summary) (\(applied.plan.byteCount) bytes) in "
                    + String(format: "%.1f ms", Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15))
        } catch {
            needsFull = true
            observer?.syncFailed(SyncOutcome(full: full, duration: ContinuousClock.now - start), kernelRefused: error.isKernelRefusal)
            Pipeline.printError("error: \(error); the next sync reads the kernel and applies in full")
        }
    }
}
