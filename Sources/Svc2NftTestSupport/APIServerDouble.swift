import Foundation
import NIOConcurrencyHelpers

/// A Kubernetes API server for tests, speaking the real protocol over HTTPS: discovery
/// (`/api`, `/apis`, resource lists), paged lists (`limit`/`continue`) with label and
/// field selectors, chunked watch streams from a `resourceVersion` with bookmarks,
/// `410 Gone` (as a watch `ERROR` event) for a compacted version, bearer-token auth.
/// Tests change objects through it and can cut every watch mid-stream. Serves Services,
/// EndpointSlices, ServiceCIDRs and Nodes (`withoutServiceCIDRs` plays an API server
/// older than 1.33, which answers 404 for them); enough of the protocol that the real `kubectl` reads it.
public final class APIServerDouble: @unchecked Sendable {
    /// A served collection.
    struct Kind: Sendable {
        let kind: String
        let apiVersion: String
        let plural: String
        let namespaced: Bool
        let shortNames: [String]
        /// `/api/v1` or `/apis/discovery.k8s.io/v1`.
        var groupVersionPath: String { apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)" }
    }

    static let kinds = [
        Kind(kind: "Service", apiVersion: "v1", plural: "services", namespaced: true, shortNames: ["svc"]),
        Kind(kind: "Node", apiVersion: "v1", plural: "nodes", namespaced: false, shortNames: ["no"]),
        Kind(kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1", plural: "endpointslices", namespaced: true, shortNames: []),
        Kind(kind: "ServiceCIDR", apiVersion: "networking.k8s.io/v1", plural: "servicecidrs", namespaced: false, shortNames: []),
    ]

    /// One change in the server's history.
    struct Event {
        let version: Int
        let type: String
        let kind: String
        let object: [String: Any]
    }

    struct State {
        var version = 1
        /// kind -> "namespace/name" -> object (with kind, apiVersion, resourceVersion).
        var objects: [String: [String: [String: Any]]] = [:]
        var history: [Event] = []
        /// Watches from a version below this get 410 Gone.
        var oldestWatchable = 1
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0
        var requests: [String] = []
        /// Kinds whose lists and watches fail with 500, as an overloaded API server's do.
        var refused: Set<String> = []
    }

    let state = NIOLockedValueBox(State())
    public let token: String?
    /// How often open watches that asked for bookmarks get one.
    public let bookmarkInterval: Duration

    /// Kinds this server does not serve (404), as an older API server.
    let unserved: Set<String>

    public init(token: String? = "test-token", bookmarkInterval: Duration = .seconds(1), withoutServiceCIDRs: Bool = false) {
        self.token = token
        self.bookmarkInterval = bookmarkInterval
        unserved = withoutServiceCIDRs ? ["ServiceCIDR"] : []
    }

    // MARK: changes, as a controller would make them

    /// Creates or replaces an object (a JSON object with `kind`); returns its new
    /// resourceVersion. Watchers see ADDED or MODIFIED.
    @discardableResult
    public func put(_ json: String) -> Int {
        let object = try! JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return put(object)
    }

    @discardableResult
    public func put(_ object: [String: Any]) -> Int {
        let kindName = object["kind"] as! String
        let kind = Self.kinds.first { $0.kind == kindName }!
        var object = object
        object["apiVersion"] = kind.apiVersion
        var metadata = object["metadata"] as? [String: Any] ?? [:]
        if kind.namespaced, metadata["namespace"] == nil { metadata["namespace"] = "default" }
        let key = Self.key(metadata)
        return state.withLockedValue { state in
            state.version += 1
            metadata["resourceVersion"] = String(state.version)
            object["metadata"] = metadata
            let type = state.objects[kindName]?[key] == nil ? "ADDED" : "MODIFIED"
            state.objects[kindName, default: [:]][key] = object
            record(&state, Event(version: state.version, type: type, kind: kindName, object: object))
            return state.version
        }
    }

    /// Deletes an object; watchers see DELETED with its last version.
    public func delete(kind: String, namespace: String? = "default", name: String) {
        let key = namespace.map { "\($0)/\(name)" } ?? name
        state.withLockedValue { state in
            guard var object = state.objects[kind]?.removeValue(forKey: key) else { return }
            state.version += 1
            var metadata = object["metadata"] as! [String: Any]
            metadata["resourceVersion"] = String(state.version)
            object["metadata"] = metadata
            record(&state, Event(version: state.version, type: "DELETED", kind: kind, object: object))
        }
    }

    /// Forgets the history: watches from any version seen so far get 410 Gone, as after
    /// etcd compaction.
    public func compact() {
        state.withLockedValue { state in
            state.history.removeAll()
            state.oldestWatchable = state.version + 1
        }
    }

    /// Closes every open watch connection abruptly (no final chunk), as a dying
    /// load balancer or API server does.
    public func cutWatches() {
        let watchers = state.withLockedValue { state in
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.cut() }
    }

    /// Makes lists and watches of `kind` fail with 500 Internal Server Error (or work
    /// again), to show that nothing is applied from a partial view.
    public func refuse(_ kind: String, _ refused: Bool = true) {
        state.withLockedValue { state in
            if refused { state.refused.insert(kind) } else { state.refused.remove(kind) }
        }
    }

    /// Every request's method, path and query, in order.
    public var requests: [String] { state.withLockedValue { $0.requests } }

    /// The number of watches open now.
    public var openWatches: Int { state.withLockedValue { $0.watchers.count } }

    public var resourceVersion: Int { state.withLockedValue { $0.version } }

    private func record(_ state: inout State, _ event: Event) {
        state.history.append(event)
        for watcher in state.watchers.values { watcher.offer(event) }
    }

    static func key(_ metadata: [String: Any]) -> String {
        let name = metadata["name"] as? String ?? ""
        if let namespace = metadata["namespace"] as? String { return "\(namespace)/\(name)" }
        return name
    }
}
