import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A listener for `/healthz` or `/metrics` that keeps trying to bind, every 5 s, as
/// kube-proxy does without `--bind-address-hard-fail`: a port taken at start is logged,
/// not fatal, and the server comes up once the port is free.
final class RetryingListener: Sendable {
    static let retryInterval: DispatchTimeInterval = .seconds(5)

    let name: String
    private let host: String
    private let port: Int
    private let group: any EventLoopGroup
    private let logger: Logger
    private let respond: @Sendable (HTTPRequest) -> HTTPReply
    private let state = NIOLockedValueBox<(listener: HTTPListener?, stopped: Bool)>((nil, false))
    private let queue: DispatchQueue

    init(
        name: String, host: String, port: Int, group: any EventLoopGroup, logger: Logger,
        respond: @escaping @Sendable (HTTPRequest) -> HTTPReply
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.group = group
        self.logger = logger
        self.respond = respond
        queue = DispatchQueue(label: "svc2nft.\(name)")
    }

    /// Tries once now (so a free port is bound when this returns), then in the background.
    func start() {
        queue.sync { attempt() }
    }

    /// The bound port, nil while not bound.
    var boundPort: Int? { state.withLockedValue { $0.listener?.port } }

    func shutdown() {
        queue.sync {
            let listener = state.withLockedValue { state in
                state.stopped = true
                defer { state.listener = nil }
                return state.listener
            }
            listener?.close()
        }
    }

    private func attempt() {
        guard !state.withLockedValue(\.stopped) else { return }
        do {
            let listener = try HTTPListener.bind(host: host, port: port, group: group, respond: respond)
            state.withLockedValue { $0.listener = listener }
            logger.info("serving \(name)", metadata: ["address": "\(host):\(listener.port)"])
        } catch {
            logger.error("failed to start \(name) server; retrying in 5 s", metadata: ["address": "\(host):\(port)", "error": "\(error)"])
            queue.asyncAfter(deadline: .now() + Self.retryInterval) { [weak self] in self?.attempt() }
        }
    }
}
