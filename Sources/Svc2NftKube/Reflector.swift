import Logging
import Svc2NftCore

/// What a `Reflector` reports: a complete list (which replaces everything known of its
/// resource), or one change seen on the watch after it.
public enum WatchUpdate: Sendable {
    case listed(Resource, [RawObject])
    case changed(Resource, ObjectEvent)
}

/// Keeps one resource in step with the API server as client-go's reflector does: a
/// paged list, then a watch from the list's `resourceVersion` with bookmarks; after a
/// watch ends (server timeout, cut connection) it watches again from the last version
/// seen; after `410 Gone` it lists again. Failures wait a capped exponential backoff.
/// Runs until its task is cancelled.
public struct Reflector: Sendable {
    public let resource: Resource
    let client: APIClient
    let logger: Logger
    /// Objects per list page (client-go's pager uses 500).
    public var pageSize = 500
    /// The server ends each watch after this many seconds (client-go picks 5-10 minutes
    /// at random, so that nodes do not re-watch together).
    public var watchSeconds: ClosedRange<Int> = 300...600
    public var backoff = Backoff()

    public init(resource: Resource, client: APIClient, logger: Logger) {
        self.resource = resource
        self.client = client
        self.logger = logger
    }

    public func run(_ send: @Sendable (WatchUpdate) async -> Void) async {
        var backoff = backoff
        while !Task.isCancelled {
            do {
                let (objects, listVersion) = try await list()
                logger.info("listed \(resource): \(objects.count) objects at resourceVersion \(listVersion)")
                await send(.listed(resource, objects))
                backoff.reset()
                var version = listVersion
                while !Task.isCancelled {
                    do {
                        try await watch(from: &version, send)
                        logger.debug("watch of \(resource) ended at resourceVersion \(version); watching again")
                    } catch let error where error.isGone {
                        logger.info("watch of \(resource): resourceVersion \(version) is gone (410); listing again")
                        break
                    } catch {
                        logger.warning("watch of \(resource) failed: \(error); retrying")
                        try await Task.sleep(for: backoff.delay())
                    }
                }
            } catch is CancellationError {
                return
            } catch let error as APIError where resource.optional && error.isNotFound {
                logger.info("the API server does not serve \(resource); going on without")
                await send(.listed(resource, []))
                return
            } catch {
                logger.warning("list of \(resource) failed: \(error); retrying")
                try? await Task.sleep(for: backoff.delay())
            }
        }
    }

    /// Every object, page by page, and the list's resourceVersion. A continue token that
    /// expired (410) starts the list again.
    func list() async throws(APIError) -> ([RawObject], String) {
        var objects: [RawObject] = []
        var token: String? = nil
        var version = ""
        repeat {
            var extra = [("limit", String(pageSize))]
            if let token { extra.append(("continue", token)) }
            let body = try await client.get(resource.path, query: resource.query(extra))
            let page = try parse(body, path: resource.path)
            guard case .array(let items)? = page["items"] else {
                throw .malformed(path: resource.path, reason: "the list has no items")
            }
            for (index, item) in items.enumerated() {
                objects.append(object(item, path: "items[\(index)]"))
            }
            version = Self.string(page["metadata"]?["resourceVersion"]) ?? ""
            token = Self.string(page["metadata"]?["continue"]).flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return (objects, version)
    }

    /// One watch from `version`; `version` follows every event and bookmark, so the next
    /// watch resumes where this one ended.
    func watch(from version: inout String, _ send: @Sendable (WatchUpdate) async -> Void) async throws(APIError) {
        let seconds = Int.random(in: watchSeconds)
        let query = resource.query([
            ("watch", "true"), ("resourceVersion", version), ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", String(seconds)),
        ])
        var latest = version
        defer { version = latest }
        try await client.stream(resource.path, query: query) { line throws(APIError) in
            let event = try parse(line, path: resource.path)
            guard case .string(let type)? = event["type"], let object = event["object"] else {
                throw .malformed(path: resource.path, reason: "a watch event without type or object")
            }
            switch type {
            case "ADDED", "MODIFIED", "DELETED":
                if let next = Self.string(object["metadata"]?["resourceVersion"]) { latest = next }
                let change: ObjectEvent.Change = type == "DELETED" ? .delete : .upsert
                await send(.changed(resource, ObjectEvent(change: change, object: self.object(object, path: "watch"))))
            case "BOOKMARK":
                if let next = Self.string(object["metadata"]?["resourceVersion"]) { latest = next }
            case "ERROR":
                let code: Int = if case .number(let n)? = object["code"] { Int(n) } else { 0 }
                throw .status(path: resource.path, code: code, message: Self.string(object["message"]) ?? "")
            default:
                throw .malformed(path: resource.path, reason: "unknown watch event type \"\(type)\"")
            }
        }
    }

    private func parse(_ body: [UInt8], path: String) throws(APIError) -> Value {
        do {
            return try JSONParser.parse(body, file: path)
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }

    /// An object from the API server, named after its source. Items of a typed list
    /// (`ServiceList`) carry no `kind`: it is the resource's.
    private func object(_ value: Value, path: String) -> RawObject {
        var value = value
        if value["kind"] == nil, case .object(let fields) = value {
            value = .object(Fields(fields.pairs + [(key: "kind", value: .string(resource.kind))]))
        }
        return RawObject(file: "apiserver \(resource)", path: path, value: value)
    }

    static func string(_ value: Value?) -> String? {
        if case .string(let text)? = value { text } else { nil }
    }
}
