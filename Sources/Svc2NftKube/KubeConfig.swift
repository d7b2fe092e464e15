import Foundation
import Yams

/// Where the API server is and how svc2nft proves who it is: the current context of a
/// kubeconfig file, or the pod's service account (in-cluster). Read once at start;
/// only a token file is read again, before each request, because the kubelet rotates
/// projected service-account tokens in place.
public struct KubeConfig: Sendable, Equatable {
    /// Base URL of the API server, such as `https://10.96.0.1:443`.
    public var server: URL
    /// PEM of the CA that signed the server's certificate; nil trusts the system's roots.
    public var certificateAuthority: [UInt8]?
    /// kubeconfig's `insecure-skip-tls-verify`.
    public var insecureSkipTLSVerify = false
    /// PEM client certificate and key, for certificate authentication.
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    public var token: Token?
    /// Where this came from, for messages: the kubeconfig's path or "in-cluster".
    public var source: String

    /// A bearer token: given, or in a file that may be replaced while svc2nft runs.
    public enum Token: Sendable, Equatable {
        case value(String)
        case file(String)

        /// The token now (a file is read each time: rotation needs no restart).
        public func current() throws(KubeConfigError) -> String {
            switch self {
            case .value(let text): return text
            case .file(let path):
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw .unreadable(path, reason: "cannot read the token file")
                }
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
    }

    public init(server: URL, source: String) {
        self.server = server
        self.source = source
    }

    /// The service account's files, as the kubelet mounts them into every pod.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// As kube-proxy and kubectl choose: `--kubeconfig`, else `$KUBECONFIG` (its first
    /// file), else the pod's service account.
    public static func load(
        kubeconfig: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KubeConfigError) -> KubeConfig {
        if let kubeconfig, !kubeconfig.isEmpty { return try file(kubeconfig) }
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first {
            return try file(String(first))
        }
        return try inCluster(environment: environment)
    }

    /// From `KUBERNETES_SERVICE_HOST`/`_PORT` and the service account's token and CA.
    public static func inCluster(
        environment: [String: String], directory: String = serviceAccountDirectory
    ) throws(KubeConfigError) -> KubeConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"],
            !host.isEmpty, !port.isEmpty
        else { throw .notInCluster }
        // An IPv6 service host needs brackets in a URL.
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let url = URL(string: "https://\(authority)") else {
            throw .invalid("KUBERNETES_SERVICE_HOST", field: "", problem: "\"\(authority)\" is not a host and port")
        }
        var config = KubeConfig(server: url, source: "in-cluster")
        config.token = .file("\(directory)/token")
        _ = try config.token!.current()
        config.certificateAuthority = try read("\(directory)/ca.crt")
        return config
    }

    /// The current context of a kubeconfig file. Relative paths in it are relative to
    /// the file's folder, as kubectl reads them.
    public static func file(_ path: String) throws(KubeConfigError) -> KubeConfig {
        let text = try read(path)
        let root: Any?
        do {
            root = try Yams.load(yaml: String(decoding: text, as: UTF8.self))
        } catch {
            throw .invalid(path, field: "", problem: "is not YAML: \(error)")
        }
        let document = Document(path: path, root: root as? [String: Any] ?? [:])
        let directory = (path as NSString).deletingLastPathComponent
        func resolve(_ file: String) -> String {
            file.hasPrefix("/") || directory.isEmpty ? file : "\(directory)/\(file)"
        }

        guard let contextName = document.root["current-context"] as? String, !contextName.isEmpty else {
            throw .invalid(path, field: "current-context", problem: "is not set; run `kubectl config use-context NAME`")
        }
        let context = try document.named("contexts", contextName, body: "context")
        let clusterName = try document.string(context, "cluster", in: "contexts[\(contextName)].context")
        let cluster = try document.named("clusters", clusterName, body: "cluster")
        let serverText = try document.string(cluster, "server", in: "clusters[\(clusterName)].cluster")
        guard let server = URL(string: serverText), server.scheme == "https" || server.scheme == "http", server.host != nil else {
            throw .invalid(path, field: "clusters[\(clusterName)].cluster.server", problem: "\"\(serverText)\" is not an http(s) URL")
        }
        var config = KubeConfig(server: server, source: path)
        let clusterPath = "clusters[\(clusterName)].cluster"
        config.certificateAuthority = try document.pem(
            cluster, data: "certificate-authority-data", file: "certificate-authority", in: clusterPath, resolve: resolve)
        config.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"] as? Bool ?? false

        if let userName = context["user"] as? String, !userName.isEmpty {
            let user = try document.named("users", userName, body: "user")
            let userPath = "users[\(userName)].user"
            config.clientCertificate = try document.pem(
                user, data: "client-certificate-data", file: "client-certificate", in: userPath, resolve: resolve)
            config.clientKey = try document.pem(user, data: "client-key-data", file: "client-key", in: userPath, resolve: resolve)
            if (config.clientCertificate == nil) != (config.clientKey == nil) {
                throw .invalid(path, field: userPath, problem: "has a client certificate without its key, or a key without its certificate")
            }
            if let token = user["token"] as? String, !token.isEmpty {
                config.token = .value(token)
            } else if let tokenFile = user["tokenFile"] as? String, !tokenFile.isEmpty {
                config.token = .file(resolve(tokenFile))
            }
            for unsupported in ["exec", "auth-provider", "username"] where user[unsupported] != nil {
                throw .invalid(path, field: "\(userPath).\(unsupported)", problem: "is not supported; use a token or a client certificate")
            }
        }
        return config
    }

    static func read(_ path: String) throws(KubeConfigError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        return [UInt8](data)
    }

    /// A parsed kubeconfig, with lookups that name the field they failed on.
    private struct Document {
        let path: String
        let root: [String: Any]

        /// The `body` of the entry called `name` in the list `list` (`clusters`, ...).
        func named(_ list: String, _ name: String, body: String) throws(KubeConfigError) -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { $0["name"] as? String == name }) else {
                throw .invalid(path, field: list, problem: "has no entry named \"\(name)\"")
            }
            return entry[body] as? [String: Any] ?? [:]
        }

        func string(_ map: [String: Any], _ key: String, in parent: String) throws(KubeConfigError) -> String {
            guard let value = map[key] as? String, !value.isEmpty else {
                throw .invalid(path, field: "\(parent).\(key)", problem: "is missing")
            }
            return value
        }

        /// PEM bytes from a base64 `…-data` field, or from the file a path field names.
        func pem(
            _ map: [String: Any], data: String, file: String, in parent: String, resolve: (String) -> String
        ) throws(KubeConfigError) -> [UInt8]? {
            if let encoded = map[data] as? String, !encoded.isEmpty {
                guard let decoded = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                    throw .invalid(path, field: "\(parent).\(data)", problem: "is not base64")
                }
                return [UInt8](decoded)
            }
            if let name = map[file] as? String, !name.isEmpty { return try KubeConfig.read(resolve(name)) }
            return nil
        }
    }
}

/// Why the API server's address or credentials could not be read.
public enum KubeConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(String, reason: String)
    case invalid(String, field: String, problem: String)
    case notInCluster

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .invalid(let path, let field, let problem): "\(path): \(field.isEmpty ? "" : "\(field): ")\(problem)"
        case .notInCluster:
            "no API server: give --kubeconfig FILE (or set KUBECONFIG), or run in a pod (KUBERNETES_SERVICE_HOST and _PORT are not set)"
        }
    }
}
