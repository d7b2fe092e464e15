import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Svc2NftAgent
import Svc2NftCommandLine
import Svc2NftCore
import Svc2NftHealth
import Svc2NftKube
import Svc2NftNetlink

/// `svc2nft run`: the node agent. Watches the API server and keeps this node's rules in
/// step with the cluster until SIGTERM or SIGINT, which leave the rules in place.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch the API server and keep this node's rules in step with the cluster (root), as kube-proxy does.")

    @Option(help: "kubeconfig file (default: $KUBECONFIG, else the pod's service account).")
    var kubeconfig: String?

    @Option(name: .customLong("min-sync-period"), help: "Apply changes at most this often (Go duration; default 1s).")
    var minSyncPeriod: String?

    @Option(name: .customLong("sync-period"), help: "Read the kernel and repair drift at least this often (Go duration; default 30s).")
    var syncPeriod: String?

    @Option(
        name: .customLong("detect-local-mode"),
        help: "Pod traffic is from --cluster-cidr (ClusterCIDR, the default) or this Node's podCIDRs (NodeCIDR).")
    var detectLocalMode: String?

    @Flag(
        name: .customLong("own-tables"), inversion: .prefixedNo,
        help: "Own our tables while running, where the kernel can keep them after exit (Linux 6.9+): others cannot flush or delete them (default true).")
    var ownTables = true

    @Flag(
        name: .customLong("self-healing"), inversion: .prefixedNo,
        help: "Repair other processes' changes to our tables at once, not only every --sync-period (default true).")
    var selfHealing = true

    @Flag(name: .customLong("allow-empty"), help: "Apply a cluster without Services even where our tables hold rules.")
    var allowEmpty = false

    @Option(name: [.customShort("v"), .customLong("v")], help: "Log verbosity: 0-1 info, 2-3 debug, 4+ trace.")
    var verbosity = 0

    @OptionGroup var options: NodeOptions

    @OptionGroup(title: "Health and metrics") var health: HealthOptions

    func run() async throws {
        let file: KubeProxyConfiguration?
        do {
            file = try options.configurationFile()
        } catch {
            throw ValidationError("\(error)")
        }
        let settings = try settings(file)
        let healthConfiguration: HealthAgent.Configuration
        do {
            // kube-proxy's health timeout is twice its sync period.
            healthConfiguration = try health.configuration(node: settings.node, defaultTimeout: settings.syncPeriod * 2, file: file)
        } catch {
            throw ValidationError("\(error)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbosity >= 4 ? .trace : verbosity >= 2 ? .debug : .info
            return handler
        }
        let logger = Logger(label: "svc2nft")
        if let file, !file.ignored.isEmpty {
            logger.warning("--config: svc2nft ignores \(file.ignored.joined(separator: ", "))")
        }
        let lock = try Apply.lockNode()
        let client: APIClient
        let applier: Applier
        do {
            let config = try KubeConfig.load(kubeconfig: kubeconfig ?? file?.kubeconfig)
            client = try APIClient(config: config)
            let transport = try MNLTransport()
            let owns = ownTables ? try Applier(transport: transport).supportsTableOwnership() : false
            applier = Applier(transport: transport, ownsTables: owns, recordPath: NodeLock.appliedRecordPath())
            logger.info("node \(settings.nodeName); API server \(config.server.absoluteString) (\(config.source))")
            if ownTables && !owns {
                logger.info("this kernel cannot keep owned tables after exit (Linux 6.9+): tables stay unowned, self-healing repairs others' changes")
            }
        } catch {
            Pipeline.printError("error: \(error)")
            throw Failure.cannotStart
        }
        let health = HealthAgent(healthConfiguration, logger: logger)
        let agent = Agent(settings: settings, client: client, applier: applier, logger: logger, observer: HealthObserver(health))
        let group = ServiceGroup(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        health.shutdown()
        // The process ends here: its connections close with it. (async-http-client's
        // shutdown waited 5 s for the API server's side of each TLS connection to close.)
        withExtendedLifetime((lock, client)) { Foundation.exit(0) }
    }

    /// The checked options, filled from the configuration file; a bad one exits 2.
    func settings(_ file: KubeProxyConfiguration?) throws -> AgentSettings {
        guard options.paths.isEmpty else {
            throw ValidationError("run reads the cluster from the API server; give no manifest files")
        }
        var flags = options.flags(file)
        let name = (flags.nodeName ?? Self.hostname()).lowercased()
        flags.nodeName = name
        let node: NodeConfig
        do {
            node = try flags.nodeConfig()
        } catch {
            throw ValidationError("\(error)")
        }
        let minSyncPeriod = self.minSyncPeriod ?? file?.minSyncPeriod ?? "1s"
        let syncPeriod = self.syncPeriod ?? file?.syncPeriod ?? "30s"
        let detectLocalMode = self.detectLocalMode ?? file?.detectLocalMode ?? DetectLocalMode.clusterCIDR.rawValue
        var settings = AgentSettings(nodeName: name, node: node)
        guard let minimum = GoDuration.parse(minSyncPeriod) else { throw ValidationError("--min-sync-period: \"\(minSyncPeriod)\" is not a duration (such as 1s)") }
        guard let period = GoDuration.parse(syncPeriod), period > .zero else { throw ValidationError("--sync-period: \"\(syncPeriod)\" is not a positive duration (such as 30s)") }
        guard let mode = DetectLocalMode(rawValue: detectLocalMode) else {
            throw ValidationError("--detect-local-mode: \"\(detectLocalMode)\" is not one of \(DetectLocalMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        settings.minSyncPeriod = minimum
        settings.syncPeriod = period
        settings.detectLocalMode = mode
        settings.allowEmpty = allowEmpty
        settings.selfHealing = selfHealing
        return settings
    }

    static func hostname() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }
}
