import NIOCore
import NIOHTTP1
import NIOPosix

/// What a handler sees of a request: kube-proxy's handlers look at the path at most.
public struct HTTPRequest: Sendable, Equatable {
    public let method: String
    /// The path without the query.
    public let path: String
}

/// One listening HTTP/1.1 socket (SwiftNIO) that answers every request with `respond`.
/// Small on purpose: the health and metrics servers need status, headers and a short body.
final class HTTPListener: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `host:port` (blocking until bound); throws the socket error, such as
    /// "Address already in use".
    static func bind(
        host: String, port: Int, group: any EventLoopGroup, respond: @escaping @Sendable (HTTPRequest) -> HTTPReply
    ) throws -> HTTPListener {
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(respond: respond))
                }
            }
            .bind(host: host, port: port).wait()
        return HTTPListener(channel: channel)
    }

    /// The port actually bound (useful with port 0 in tests).
    var port: Int { channel.localAddress?.port ?? 0 }

    func close() {
        try? channel.close().wait()
    }
}

/// Reads one request at a time and writes the handler's reply; keeps the connection open
/// when the client asked for keep-alive, as Go's server does.
private final class Responder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let respond: @Sendable (HTTPRequest) -> HTTPReply
    private var head: HTTPRequestHead?

    init(respond: @escaping @Sendable (HTTPRequest) -> HTTPReply) {
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            let reply = respond(HTTPRequest(method: head.method.rawValue, path: path))
            var headers = HTTPHeaders(reply.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            headers.add(name: "Content-Length", value: String(reply.body.utf8.count))
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let status = HTTPResponseStatus(statusCode: reply.status)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: reply.body)))), promise: nil)
            }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
