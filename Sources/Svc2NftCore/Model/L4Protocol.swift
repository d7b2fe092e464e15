/// The transport protocols a Service port can use. Raw values are nft's spelling.
public enum L4Protocol: String, Sendable, Hashable, Comparable, CaseIterable {
    case tcp, udp, sctp

    /// Parses the Kubernetes spelling (`TCP`, `UDP`, `SCTP`).
    public init?(kubernetes text: String) {
        switch text {
        case "TCP": self = .tcp
        case "UDP": self = .udp
        case "SCTP": self = .sctp
        default: return nil
        }
    }

    /// IANA protocol number, as `meta l4proto` compares it.
    public var number: UInt8 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .sctp: 132
        }
    }

    public static func < (a: L4Protocol, b: L4Protocol) -> Bool { a.number < b.number }
}
