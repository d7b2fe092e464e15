import ArgumentParser
import Foundation
import Svc2NftAgent
import Svc2NftCommandLine
import Svc2NftCore
import Svc2NftHealth
import Svc2NftNetlink

/// `svc2nft apply`: install the ruleset `compile` prints: to existing tables in one netlink
/// transaction, as a fresh install in parts that packets see only when all are in.
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install the ruleset into the kernel atomically (root). Exit 1 if the kernel refuses; nothing changes then.")

    @Flag(help: "Also read the live rules and rewrite chains and maps edited behind svc2nft's back (slower).")
    var repair = false

    @Flag(
        help: ArgumentHelp(
            "After applying the files, read changed objects from standard input and apply only the differences.",
            discussion:
                "Input: JSON objects, Lists or watch events, as 'kubectl get services,endpointslices -A --watch -o json --output-watch-events' prints them. Runs until standard input ends."
        ))
    var follow = false

    @Option(name: .customLong("sync-delay"), help: "With --follow: milliseconds of quiet input before changes are applied.")
    var syncDelay = 100

    @Flag(
        name: .customLong("self-healing"), inversion: .prefixedNo,
        help: "With --follow: repair other processes' changes to our tables at once (default true).")
    var selfHealing = true

    @Flag(
        name: .customLong("allow-empty"),
        help: "Apply an input without Services even when our tables hold some (removes every Service's rules).")
    var allowEmpty = false

    @OptionGroup var options: NodeOptions

    @OptionGroup(title: "With --follow: health and metrics") var health: HealthOptions

    func run() throws {
        let lock = try Self.lockNode()
        defer { withExtendedLifetime(lock) {} }
        if follow { try runFollowing() }
        let (cluster, node) = Pipeline.cluster(options)
        try refuseEmpty(serviceCount: cluster.services.count, node: node)
        do {
            let applier = Applier(transport: try MNLTransport(), recordPath: NodeLock.appliedRecordPath())
            try applier.probe()
            let applied = try applier.apply(.lowering(cluster, node: node), repair: repair)
            report(applied)
            Self.cleanConntrack(ServiceBackends(cluster: cluster, node: node))
            // Exits without freeing the graph and the cluster (50-70 ms at 10,000 Services).
            Pipeline.finish(keeping: (cluster, applied))
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.kernel
        }
    }

    /// One svc2nft writes a node's rules at a time (`NodeLock`); exit 1 if another holds it.
    static func lockNode() throws -> NodeLock {
        do {
            return try NodeLock()
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.cannotStart
        }
    }

    /// After a successful apply: deletes stale UDP/SCTP conntrack entries and logs one
    /// line. A failure is logged, never fails the apply.
    @discardableResult
    static func cleanConntrack(_ backends: ServiceBackends) -> ConntrackCleanupResult {
        let result = ConntrackCleanup.run(backends)
        if !backends.isEmpty { Pipeline.printError(result.logLine) }
        return result
    }

    /// Without `--allow-empty`, refuses (exit 2) an input with no Services when our
    /// tables hold some: an empty input is far more often a mistake than a wish to remove
    /// every Service from the node.
    func refuseEmpty(serviceCount: Int, node: NodeConfig) throws {
        guard serviceCount == 0, !allowEmpty else { return }
        let holds: Bool
        do {
            holds = try Applier(transport: try MNLTransport()).holdsServices(IPFamily.allCases.map { (TableFamily($0), node.tableName) })
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.kernel
        }
        guard holds else { return }
        Pipeline.printError(
            "error: the input has no Services, but table \(node.tableName) holds some: applying it would remove every Service's rules from this node; check the input, or pass --allow-empty"
        )
        throw Failure.badInput
    }

    func report(_ applied: Applied) {
        Pipeline.printError(
            "applied: \(applied.tables) tables, \(applied.chains) chains, \(applied.rules) rules; sent \(applied.sentSummary)")
    }
}

extension Apply {
    func runFollowing() throws -> Never {
        guard !options.paths.contains("-") else {
            Pipeline.printError("error: --follow reads changes from standard input; give files for the initial state, not '-'")
            throw Failure.badInput
        }
        guard syncDelay >= 0 else {
            Pipeline.printError("error: --sync-delay: must be 0 or more milliseconds")
            throw Failure.badInput
        }
        let (node, objects) = Pipeline.validatedObjects(options)
        let healthConfiguration: HealthAgent.Configuration
        do {
            healthConfiguration = try health.configuration(node: node)
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.badInput
        }
        if !options.paths.isEmpty { try refuseEmpty(serviceCount: objects.count { $0.kind == "Service" }, node: node) }
        let transport: MNLTransport
        do {
            transport = try MNLTransport()
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.kernel
        }
        let agent = HealthAgent(healthConfiguration)
        var follower = Follower(node: node, applier: Applier(transport: transport), delayMilliseconds: syncDelay)
        follower.observer = HealthObserver(agent)
        follower.selfHealing = selfHealing
        let status = follower.run(initial: objects)
        agent.shutdown()
        // The last sync failed: the kernel refused it (its error is logged).
        guard status == 0 else { throw Failure.kernel }
        throw ExitCode.success
    }
}

/// `svc2nft delete`: remove our tables, and nothing else.
struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove svc2nft's ip and ip6 tables (root); succeeds when they are absent.")

    @Option(name: .customLong("table"), help: "Name of our ip and ip6 tables.")
    var table: String = NodeConfig.defaultTableName

    func run() throws {
        guard NodeConfig.isValidTableName(table) else {
            Pipeline.printError("error: --table: \"\(table)\" is not a usable table name")
            throw Failure.badInput
        }
        let lock = try Apply.lockNode()
        defer { withExtendedLifetime(lock) {} }
        do {
            try Applier(transport: MNLTransport(), recordPath: NodeLock.appliedRecordPath()).delete(tableName: table)
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.kernel
        }
    }
}
