import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Serves an `APIServerDouble` over HTTPS on an address inside a network namespace the
/// test made (the listening socket is created there, so a test never listens on the
/// host's addresses). Stops when the value goes away.
public final class APIServerListener {
    let channel: Channel
    public let url: String

    /// Listens on `host:port` in `namespace` (nil: this process's namespace) with the
    /// certificate of `certificates`.
    public init(_ double: APIServerDouble, certificates: TestCertificates, namespace: String?, host: String = "127.0.0.1", port: Int)
        throws
    {
        let socket = try NamespaceThread.listeningSocket(in: namespace, host: host, port: port)
        let server = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: NIOSSLCertificate.fromPEMFile(certificates.serverCertificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.serverKey, format: .pem))))
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: server))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(APIRequestHandler(double: double))
                }
            }
            .withBoundSocket(socket).wait()
        url = "https://\(host):\(port)"
    }

    /// Stops listening and drops every connection.
    public func stop() {
        try? channel.close().wait()
    }

    deinit { stop() }

}

/// One HTTP/1.1 connection to the double: each request is routed by
/// `APIServerDouble.respond`; a watch keeps the connection for its stream.
final class APIRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let double: APIServerDouble
    private var head: HTTPRequestHead?

    init(double: APIServerDouble) { self.double = double }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            switch double.respond(method: head.method, uri: head.uri, authorization: head.headers.first(name: "Authorization")) {
            case .json(let status, let body):
                let bytes = try! JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
                var response = HTTPResponseHead(version: head.version, status: status)
                response.headers.add(name: "Content-Type", value: "application/json")
                response.headers.add(name: "Content-Length", value: String(bytes.count))
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
                let keepAlive = head.isKeepAlive
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                    if !keepAlive { channel.close(promise: nil) }
                }
            case .watch(let request):
                double.openWatch(request, channel: context.channel)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
