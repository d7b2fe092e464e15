import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// HTTPS requests to the API server with the credentials of a `KubeConfig`: whole
/// responses for lists, and line-by-line streams for watches. One connection pool for
/// all requests (async-http-client with NIO SSL).
public final class APIClient: Sendable {
    public let config: KubeConfig
    private let http: HTTPClient

    /// The largest list page svc2nft accepts: a page of 500 objects is a few MB; a
    /// server that ignores `limit` may send the whole cluster (10,000 Services with
    /// their slices are about 100 MB).
    static let maxResponseBytes = 1 << 30
    /// A watch line (one event) larger than this is refused: objects are limited to
    /// 1.5 MiB by etcd.
    static let maxLineBytes = 16 << 20

    public init(config: KubeConfig, readTimeout: Duration = .seconds(600)) throws(APIError) {
        self.config = config
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = config.certificateAuthority {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if let certificate = config.clientCertificate, let key = config.clientKey {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw .credentials(source: config.source, reason: "\(error)")
        }
        if config.insecureSkipTLSVerify { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        // A connection that cannot be made fails the request after 5 s (async-http-client
        // retries a refused connect until then), so an API server that is down is logged
        // and retried with backoff.
        configuration.timeout = .init(connect: .seconds(5), read: .nanoseconds(Int64(readTimeout.components.seconds) * 1_000_000_000))
        configuration.decompression = .disabled
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections; call once, after the last request.
    public func shutdown() async {
        try? await http.shutdown()
    }

    /// GET `path` with `query`; the whole body. Non-2xx answers throw `APIError.status`.
    public func get(_ path: String, query: [(String, String)]) async throws(APIError) -> [UInt8] {
        let response = try await send(path, query: query, deadline: .seconds(120))
        do {
            let body = try await response.body.collect(upTo: Self.maxResponseBytes)
            return Array(body.readableBytesView)
        } catch {
            throw .transport(path: path, reason: "\(error)")
        }
    }

    /// GET a watch: calls `line` with each newline-delimited event as it arrives, until
    /// the server ends the stream (its `timeoutSeconds`) or the connection fails.
    public func stream(
        _ path: String, query: [(String, String)], line: ([UInt8]) async throws(APIError) -> Void
    ) async throws(APIError) {
        let response = try await send(path, query: query, deadline: .seconds(30))
        var pending: [UInt8] = []
        do {
            for try await chunk in response.body {
                var view = chunk.readableBytesView[...]
                while let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
                    pending.append(contentsOf: view[..<newline])
                    view = view[view.index(after: newline)...]
                    if !pending.isEmpty { try await line(pending) }
                    pending.removeAll(keepingCapacity: true)
                }
                pending.append(contentsOf: view)
                if pending.count > Self.maxLineBytes {
                    throw APIError.transport(path: path, reason: "a watch event is longer than \(Self.maxLineBytes) bytes")
                }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .transport(path: path, reason: "\(error)")
        }
        if !pending.isEmpty { try await line(pending) }
    }

    private func send(_ path: String, query: [(String, String)], deadline: Duration) async throws(APIError) -> HTTPClientResponse {
        var components = URLComponents(url: config.server, resolvingAgainstBaseURL: false)!
        components.path = (components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path) + path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        // URLComponents leaves '+' alone, which a server's form decoding reads as a space.
        let url = components.url!.absoluteString.replacingOccurrences(of: "+", with: "%2B")
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "svc2nft")
        if let token = config.token {
            do {
                request.headers.add(name: "Authorization", value: "Bearer \(try token.current())")
            } catch {
                throw .credentials(source: config.source, reason: "\(error)")
            }
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .nanoseconds(Int64(deadline.components.seconds) * 1_000_000_000))
        } catch {
            throw .transport(path: path, reason: "\(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: 64 << 10)
            let message = body.map { Status.message(in: Array($0.readableBytesView)) } ?? ""
            throw .status(path: path, code: Int(response.status.code), message: message)
        }
        return response
    }
}

/// Why a request to the API server failed.
public enum APIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Connecting, TLS, or the connection broke.
    case transport(path: String, reason: String)
    /// The server answered with an error status (its `Status` message, if any).
    case status(path: String, code: Int, message: String)
    /// The token, certificate or key could not be used.
    case credentials(source: String, reason: String)
    /// The server's answer is not what the API promises.
    case malformed(path: String, reason: String)

    /// 410 Gone: the resource version is too old; list again.
    public var isGone: Bool { if case .status(_, 410, _) = self { true } else { false } }

    /// 404 Not Found: the API server does not serve this resource.
    public var isNotFound: Bool { if case .status(_, 404, _) = self { true } else { false } }

    public var description: String {
        switch self {
        case .transport(let path, let reason): "GET \(path): \(reason)"
        case .status(let path, let code, let message):
            "GET \(path): \(code) \(HTTPResponseStatus(statusCode: code).reasonPhrase)\(message.isEmpty ? "" : ": \(message)")"
                + (code == 401 || code == 403 ? " (check the token or certificate, and the ClusterRole in deploy/)" : "")
        case .credentials(let source, let reason): "\(source): cannot use the credentials: \(reason)"
        case .malformed(let path, let reason): "GET \(path): \(reason)"
        }
    }
}

/// The API server's `Status` object, as it sends with errors.
enum Status {
    static func message(in body: [UInt8]) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return "" }
        return object["message"] as? String ?? ""
    }
}
