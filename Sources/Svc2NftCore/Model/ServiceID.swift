/// A Service's identity, `namespace/name`; both parts are validated DNS labels, so the
/// text is safe in chain names and comments.
public struct ServiceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }
    public static func < (a: ServiceID, b: ServiceID) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// Kubernetes naming rules, checked before any name reaches the rule graph.
public enum KubernetesName {
    /// RFC 1123 label: lowercase alphanumerics and '-', alphanumeric at both ends, at most 63.
    public static func isDNSLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), isAlnum(bytes.first!), isAlnum(bytes.last!) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// RFC 1035 label, as Service names must be (`IsDNS1035Label`): an RFC 1123 label
    /// that starts with a letter.
    public static func isDNS1035Label(_ text: String) -> Bool {
        guard let first = text.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return isDNSLabel(text)
    }

    /// A label value (`IsValidLabelValue`): empty, or at most 63 of letters, digits, '-',
    /// '_' and '.', starting and ending with a letter or digit.
    public static func isLabelValue(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last else { return true }
        func isAlphanumeric(_ b: UInt8) -> Bool { isAlnum(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) }
        guard bytes.count <= 63, isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
    public static func isDNSSubdomain(_ text: String) -> Bool {
        text.utf8.count <= 253 && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
    }

    /// IANA service name (`IsValidPortName`), as a named `targetPort` must be: at most 15
    /// lowercase alphanumerics or '-', at least one letter, no '--', no '-' at the ends.
    /// (Port names themselves are DNS-1123 labels: `80-8080` is one.)
    public static func isPortName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...15).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-"),
            !zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: "-") && $1 == UInt8(ascii: "-") }),
            bytes.contains(where: { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) })
        else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
