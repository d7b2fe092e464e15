import Foundation
import Yams

/// The fields of a kube-proxy configuration file (`--config`, kind
/// `KubeProxyConfiguration`, `kubeproxy.config.k8s.io/v1alpha1`) that svc2nft uses, as
/// text for the same checks as the flags; command-line flags override them. Fields
/// svc2nft does not use are listed in `ignored`, so the caller can warn once.
public struct KubeProxyConfiguration: Sendable, Equatable {
    public var clusterCIDRs: [String] = []
    public var nodePortAddresses: [String] = []
    public var masqueradeAll: Bool?
    public var detectLocalMode: String?
    public var hostnameOverride: String?
    /// `syncPeriod` (or `nftables.syncPeriod`), Go duration text.
    public var syncPeriod: String?
    public var minSyncPeriod: String?
    public var healthzBindAddress: String?
    public var metricsBindAddress: String?
    /// `clientConnection.kubeconfig`.
    public var kubeconfig: String?
    /// Fields present in the file that svc2nft does not use, as dotted paths.
    public var ignored: [String] = []

    public init() {}

    /// Fields svc2nft reads; everything else present is `ignored`.
    static let used: Set<String> = [
        "apiVersion", "kind", "clusterCIDR", "nodePortAddresses", "masqueradeAll", "detectLocalMode", "hostnameOverride",
        "syncPeriod", "minSyncPeriod", "healthzBindAddress", "metricsBindAddress", "clientConnection.kubeconfig",
        "nftables.masqueradeAll", "nftables.syncPeriod", "nftables.minSyncPeriod", "mode",
    ]

    public static func read(_ path: String) throws(KubeConfigFileError) -> KubeProxyConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        let root: [String: Any]
        do {
            guard let map = try Yams.load(yaml: String(decoding: data, as: UTF8.self)) as? [String: Any] else {
                throw KubeConfigFileError.invalid(path, field: "", problem: "is not a YAML mapping")
            }
            root = map
        } catch let error as KubeConfigFileError {
            throw error
        } catch {
            throw .invalid(path, field: "", problem: "is not YAML: \(error)")
        }
        guard root["kind"] as? String == "KubeProxyConfiguration" else {
            throw .invalid(path, field: "kind", problem: "must be KubeProxyConfiguration")
        }
        if let mode = root["mode"] as? String, !mode.isEmpty, mode != "nftables" {
            throw .invalid(path, field: "mode", problem: "\"\(mode)\": svc2nft does what the nftables mode does; set mode: nftables or leave it out")
        }
        func string(_ key: String, in map: [String: Any] = root, prefix: String = "") throws(KubeConfigFileError) -> String? {
            guard let value = map[key] else { return nil }
            guard let text = value as? String else { throw .invalid(path, field: prefix + key, problem: "must be a string") }
            return text.isEmpty ? nil : text
        }
        func bool(_ key: String, in map: [String: Any] = root, prefix: String = "") throws(KubeConfigFileError) -> Bool? {
            guard let value = map[key] else { return nil }
            guard let flag = value as? Bool else { throw .invalid(path, field: prefix + key, problem: "must be true or false") }
            return flag
        }
        let nftables = root["nftables"] as? [String: Any] ?? [:]
        var config = KubeProxyConfiguration()
        config.clusterCIDRs = try string("clusterCIDR").map { $0.split(separator: ",").map(String.init) } ?? []
        if let list = root["nodePortAddresses"] {
            guard let addresses = list as? [String] else { throw .invalid(path, field: "nodePortAddresses", problem: "must be a list of strings") }
            config.nodePortAddresses = addresses
        }
        let nftablesMasquerade = try bool("masqueradeAll", in: nftables, prefix: "nftables.")
        let topMasquerade = try bool("masqueradeAll")
        config.masqueradeAll = nftablesMasquerade ?? topMasquerade
        config.detectLocalMode = try string("detectLocalMode")
        config.hostnameOverride = try string("hostnameOverride")
        let nftablesSync = try string("syncPeriod", in: nftables, prefix: "nftables.")
        let topSync = try string("syncPeriod")
        config.syncPeriod = nftablesSync ?? topSync
        let nftablesMinSync = try string("minSyncPeriod", in: nftables, prefix: "nftables.")
        let topMinSync = try string("minSyncPeriod")
        config.minSyncPeriod = nftablesMinSync ?? topMinSync
        config.healthzBindAddress = try string("healthzBindAddress")
        config.metricsBindAddress = try string("metricsBindAddress")
        if let client = root["clientConnection"] as? [String: Any] {
            config.kubeconfig = try string("kubeconfig", in: client, prefix: "clientConnection.")
        }
        config.ignored = Self.fields(of: root).filter { !used.contains($0) }.sorted()
        return config
    }

    /// Every leaf field's dotted path (mappings descended, lists and scalars are leaves);
    /// a section such as `nftables` counts by its fields.
    static func fields(of map: [String: Any], prefix: String = "") -> [String] {
        map.flatMap { key, value -> [String] in
            let path = prefix + key
            if let nested = value as? [String: Any], !nested.isEmpty { return fields(of: nested, prefix: path + ".") }
            return [path]
        }
    }
}

/// Why a kube-proxy configuration file could not be used.
public enum KubeConfigFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(String)
    case invalid(String, field: String, problem: String)

    public var description: String {
        switch self {
        case .unreadable(let path): "\(path): cannot read the configuration file"
        case .invalid(let path, let field, let problem): "\(path): \(field.isEmpty ? "" : "\(field): ")\(problem)"
        }
    }
}
