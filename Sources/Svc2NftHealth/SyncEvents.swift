import Foundation
import Svc2NftCore

/// One change to the store, as metrics count it.
public struct QueuedChange: Sendable, Equatable {
    /// Which kube-proxy change counter it moves: Services, or endpoints (EndpointSlice, Endpoints).
    public enum Kind: Sendable, Equatable { case service, endpoints }
    public let kind: Kind
    /// `namespace/name` of the changed object, so pending changes count distinct objects.
    public let object: String
    /// `endpoints.kubernetes.io/last-change-trigger-time` of an EndpointSlice or
    /// Endpoints object: when the change began, for the network programming latency.
    public let triggerTime: Date?

    public init(kind: Kind, object: String, triggerTime: Date?) {
        self.kind = kind
        self.object = object
        self.triggerTime = triggerTime
    }

    /// The annotation the EndpointSlice controller sets (kube-proxy reads the same).
    public static let triggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

    /// Reads kind, name and trigger time from a raw object; nil for kinds that are not
    /// Service, EndpointSlice or Endpoints.
    public init?(_ object: RawObject) {
        let kind: Kind
        switch object.kind {
        case "Service": kind = .service
        case "EndpointSlice", "Endpoints": kind = .endpoints
        default: return nil
        }
        func text(_ value: Value?) -> String? { if case .string(let s)? = value { s } else { nil } }
        let metadata = object.value["metadata"]
        let name = "\(text(metadata?["namespace"]) ?? "")/\(text(metadata?["name"]) ?? "")"
        var trigger: Date? = nil
        if kind == .endpoints, let stamp = text(metadata?["annotations"]?[Self.triggerTimeAnnotation]) {
            trigger = Self.rfc3339(stamp)
        }
        self.init(kind: kind, object: "\(object.kind) \(name)", triggerTime: trigger)
    }

    static func rfc3339(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

/// One successful sync, as metrics record it.
public struct SyncOutcome: Sendable, Equatable {
    /// The kernel's state was read and everything sent (kube-proxy's full sync), or only
    /// the changes (partial).
    public let full: Bool
    public let duration: Duration
    /// Netlink transactions, messages and bytes sent.
    public let transactions: Int
    public let messages: Int
    public let bytes: Int

    public init(full: Bool, duration: Duration, transactions: Int = 0, messages: Int = 0, bytes: Int = 0) {
        self.full = full
        self.duration = duration
        self.transactions = transactions
        self.messages = messages
        self.bytes = bytes
    }
}
