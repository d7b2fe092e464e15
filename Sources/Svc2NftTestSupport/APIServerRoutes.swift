import Foundation
import NIOCore
import NIOHTTP1

/// What the double answers to one request: a whole JSON body, or a watch that stays open.
enum APIResponse {
    case json(HTTPResponseStatus, Any)
    case watch(WatchRequest)
}

/// A watch's parameters, checked.
struct WatchRequest {
    let kind: APIServerDouble.Kind
    let selector: Selector
    let version: Int?
    let bookmarks: Bool
    let timeout: Duration?
}

/// Label and field selectors as the API server reads them: `key`, `!key`, `key=value`,
/// `key==value`, `key!=value`, comma-separated (all must hold); fields
/// `metadata.name` and `metadata.namespace`.
struct Selector {
    var labels: [(key: String, op: String, value: String)] = []
    var fields: [(key: String, value: String)] = []
    var namespace: String?

    func matches(_ object: [String: Any]) -> Bool {
        let metadata = object["metadata"] as? [String: Any] ?? [:]
        if let namespace, metadata["namespace"] as? String != namespace { return false }
        let labels = metadata["labels"] as? [String: String] ?? [:]
        for requirement in self.labels {
            let value = labels[requirement.key]
            switch requirement.op {
            case "exists": if value == nil { return false }
            case "!": if value != nil { return false }
            case "=": if value != requirement.value { return false }
            default: if value == requirement.value { return false }
            }
        }
        for field in fields where metadata[String(field.key.dropFirst("metadata.".count))] as? String != field.value {
            return false
        }
        return true
    }

    static func parse(labels: String?, fields: String?, namespace: String?) -> Selector? {
        var selector = Selector(namespace: namespace)
        for term in (labels ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !term.isEmpty {
            if term.hasPrefix("!") {
                selector.labels.append((String(term.dropFirst()), "!", ""))
            } else if let range = term.range(of: "!=") {
                selector.labels.append((String(term[..<range.lowerBound]), "!=", String(term[range.upperBound...])))
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                selector.labels.append((String(term[..<range.lowerBound]), "=", String(term[range.upperBound...])))
            } else {
                selector.labels.append((term, "exists", ""))
            }
        }
        for term in (fields ?? "").split(separator: ",") where !term.isEmpty {
            let parts = term.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["metadata.name", "metadata.namespace"].contains(parts[0]) else { return nil }
            selector.fields.append((parts[0], parts[1]))
        }
        return selector
    }
}

extension APIServerDouble {
    /// Routes one request. `authorization` is the header's value, if any.
    func respond(method: HTTPMethod, uri: String, authorization: String?) -> APIResponse {
        state.withLockedValue { $0.requests.append("\(method) \(uri)") }
        if let token, authorization != "Bearer \(token)" {
            return .json(.unauthorized, Self.status(401, "Unauthorized", reason: "Unauthorized"))
        }
        guard method == .GET else { return .json(.methodNotAllowed, Self.status(405, "the double serves GET only")) }
        let components = URLComponents(string: uri) ?? URLComponents()
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let path = components.path
        switch path {
        case "/version": return .json(.ok, ["major": "1", "minor": "33", "gitVersion": "v1.33.0-svc2nft-double"])
        case "/api": return .json(.ok, ["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []])
        case "/apis":
            return .json(
                .ok,
                [
                    "kind": "APIGroupList", "apiVersion": "v1",
                    "groups": Set(Self.kinds.filter { !unserved.contains($0.kind) }.map(\.apiVersion)).filter { $0.contains("/") }.sorted()
                        .map { groupVersion -> [String: Any] in
                            let group = String(groupVersion.split(separator: "/")[0])
                            let version = ["groupVersion": groupVersion, "version": "v1"]
                            return ["name": group, "versions": [version], "preferredVersion": version]
                        },
                ])
        default: break
        }
        let served = Self.kinds.filter { !unserved.contains($0.kind) }
        for groupVersion in Set(served.map(\.groupVersionPath)) where path == groupVersion {
            let resources = served.filter { $0.groupVersionPath == groupVersion }.map { kind -> [String: Any] in
                [
                    "name": kind.plural, "singularName": kind.kind.lowercased(), "namespaced": kind.namespaced, "kind": kind.kind,
                    "verbs": ["get", "list", "watch"], "shortNames": kind.shortNames,
                ]
            }
            let version = groupVersion.hasPrefix("/apis/") ? String(groupVersion.dropFirst(6)) : "v1"
            return .json(.ok, ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": version, "resources": resources])
        }
        for kind in served {
            let base = kind.groupVersionPath
            var namespace: String? = nil
            if path == "\(base)/\(kind.plural)" {
                namespace = nil
            } else if kind.namespaced, path.hasPrefix("\(base)/namespaces/"), path.hasSuffix("/\(kind.plural)") {
                let middle = path.dropFirst("\(base)/namespaces/".count).dropLast("/\(kind.plural)".count)
                guard !middle.contains("/") else { continue }
                namespace = String(middle)
            } else {
                continue
            }
            if state.withLockedValue({ $0.refused.contains(kind.kind) }) {
                return .json(.internalServerError, Self.status(500, "etcdserver: request timed out", reason: "InternalError"))
            }
            guard let selector = Selector.parse(labels: query["labelSelector"], fields: query["fieldSelector"], namespace: namespace)
            else {
                return .json(.badRequest, Self.status(400, "unsupported fieldSelector \"\(query["fieldSelector"] ?? "")\"", reason: "BadRequest"))
            }
            if query["watch"] == "true" || query["watch"] == "1" {
                let version = query["resourceVersion"].flatMap { $0.isEmpty || $0 == "0" ? nil : Int($0) }
                let timeout = query["timeoutSeconds"].flatMap(Int.init).map { Duration.seconds($0) }
                return .watch(
                    WatchRequest(kind: kind, selector: selector, version: version, bookmarks: query["allowWatchBookmarks"] == "true", timeout: timeout))
            }
            return list(kind, selector: selector, limit: query["limit"].flatMap(Int.init), continue: query["continue"])
        }
        return .json(.notFound, Self.status(404, "the server could not find the requested resource", reason: "NotFound"))
    }

    /// A list page, sorted by namespace/name; `continue` holds the last key and the
    /// version the list started at.
    private func list(_ kind: Kind, selector: Selector, limit: Int?, continue token: String?) -> APIResponse {
        state.withLockedValue { state in
            var after: String? = nil
            var version = state.version
            if let token, !token.isEmpty {
                guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
                    let bar = text.firstIndex(of: "|"), let started = Int(text[..<bar])
                else { return .json(.badRequest, Self.status(400, "invalid continue token", reason: "BadRequest")) }
                guard started >= state.oldestWatchable else {
                    return .json(.gone, Self.status(410, "The provided continue parameter is too old", reason: "Expired"))
                }
                after = String(text[text.index(after: bar)...])
                version = started
            }
            let all = (state.objects[kind.kind] ?? [:]).sorted { $0.key < $1.key }.filter { selector.matches($0.value) }
            var page = all.filter { after == nil || $0.key > after! }
            var next: String? = nil
            if let limit, limit > 0, page.count > limit {
                page = Array(page.prefix(limit))
                next = Data("\(version)|\(page.last!.key)".utf8).base64EncodedString()
            }
            var metadata: [String: Any] = ["resourceVersion": String(version)]
            if let next { metadata["continue"] = next }
            // A typed list's items carry no kind, as the API server sends them.
            let items = page.map { entry -> [String: Any] in
                var item = entry.value
                item["kind"] = nil
                item["apiVersion"] = nil
                return item
            }
            return .json(.ok, ["kind": "\(kind.kind)List", "apiVersion": kind.apiVersion, "metadata": metadata, "items": items])
        }
    }

    static func status(_ code: Int, _ message: String, reason: String = "") -> [String: Any] {
        ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": message, "reason": reason, "code": code]
    }
}
