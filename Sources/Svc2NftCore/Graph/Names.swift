/// nft's rules for names: an identifier starts with a letter, then letters, digits,
/// `/`, `-`, `_`, `.`; at most 255 bytes. Longer identities keep a readable prefix and
/// end in `-` plus 8 base32 characters of an FNV-1a hash of the whole identity, so
/// distinct identities never share a name.
public enum NftIdentifier {
    public static let maxLength = 255

    public static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.utf8.first, isLetter(first) else { return false }
        return text.utf8.allSatisfy {
            isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    /// `text`, shortened past the length limit (see the type's comment).
    static func fitted(_ text: String) -> String {
        guard text.utf8.count > maxLength else { return text }
        let prefix = String(decoding: Array(text.utf8.prefix(maxLength - 9)), as: UTF8.self)
        return prefix + "-" + hash(text)
    }

    /// 8 base32 characters of FNV-1a 64 (stable across processes, unlike `hashValue`).
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        return String((0..<8).map { alphabet[Int((value >> UInt64(5 * $0)) & 31)] })
    }
}

/// A name nft accepts unquoted (`NftIdentifier`), of a chain or of a set: `Kind` keeps
/// the two apart, so a set's name cannot be passed where a chain's is meant.
public struct ObjectName<Kind: ObjectKind>: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let text: String

    /// Validates `text`; traps on characters outside nft's identifier set, which only a
    /// lowering bug could produce (model validation keeps manifests out of that set).
    public init(_ text: String) {
        precondition(NftIdentifier.isIdentifier(text), "not an nft identifier: \(text)")
        self.text = NftIdentifier.fitted(text)
    }

    public var description: String { text }
    public static func < (a: ObjectName, b: ObjectName) -> Bool { a.text < b.text }
}

/// What an `ObjectName` names.
public protocol ObjectKind: Sendable {}
/// Chains (`ChainName`).
public enum ChainObject: ObjectKind {}
/// Sets and maps (`SetName`).
public enum SetObject: ObjectKind {}

/// A chain's name.
public typealias ChainName = ObjectName<ChainObject>
/// A set's or map's name.
public typealias SetName = ObjectName<SetObject>

/// Text for an nft `comment "..."`: only characters that cannot end the string or the
/// line (no quotes, backslashes or control characters); at most 128 bytes.
public struct Comment: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) {
        func safe(_ byte: UInt8) -> Bool { byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") }
        // Fast path: comments built from validated identity are already safe.
        if text.utf8.count <= 128, text.utf8.allSatisfy(safe) {
            self.text = text
            return
        }
        self.text = String(decoding: text.utf8.filter(safe).prefix(128), as: UTF8.self)
    }

    public var description: String { text }
}
