/// The two address families a Service can use; each gets its own nftables table
/// (`ip` and `ip6`), as kube-proxy runs one proxier per family.
public enum IPFamily: String, Sendable, Hashable, Comparable, CaseIterable {
    case v4 = "IPv4"
    case v6 = "IPv6"

    public static func < (a: IPFamily, b: IPFamily) -> Bool { a == .v4 && b == .v6 }
    public var bitWidth: Int { self == .v4 ? 32 : 128 }
}

/// An IPv4 or IPv6 address, parsed strictly and printed canonically (RFC 5952 for IPv6).
/// Ordered by family, then numerically, so sorted output is stable.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let family: IPFamily
    /// The address as a 128-bit number, high half first; IPv4 lives in `low`'s low 32 bits.
    public let high: UInt64
    public let low: UInt64

    public init(v4 value: UInt32) {
        family = .v4
        high = 0
        low = UInt64(value)
    }

    public init(v6 high: UInt64, _ low: UInt64) {
        family = .v6
        self.high = high
        self.low = low
    }

    /// Parses dotted-quad IPv4 (no leading zeros) or IPv6 text; nil when invalid.
    public init?(_ text: String) {
        // Byte search: `String.contains(String)` goes through Foundation and cost 4% of a compile.
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let (high, low) = Self.parseV6(Substring(text)) else { return nil }
            self.init(v6: high, low)
        } else {
            guard let value = Self.parseV4(Substring(text)) else { return nil }
            self.init(v4: value)
        }
    }

    /// Dotted quad, byte by byte: four octets 0-255, no leading zeros, nothing else.
    static func parseV4(_ text: Substring) -> UInt32? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        var leadingZero = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if digits == 1, leadingZero { return nil }
                if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3, octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    static func parseV6(_ text: Substring) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var gap: Int? = nil
        var rest = text
        if rest.hasPrefix("::") {
            gap = 0
            rest = rest.dropFirst(2)
        }
        while !rest.isEmpty {
            let piece = rest.prefix { $0 != ":" }
            rest = rest.dropFirst(piece.count)
            if piece.utf8.contains(UInt8(ascii: ".")) {
                guard rest.isEmpty, groups.count <= 6, let v4 = parseV4(piece) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                break
            }
            guard (1...4).contains(piece.count), let group = UInt16(piece, radix: 16) else { return nil }
            groups.append(group)
            if rest.hasPrefix("::") {
                guard gap == nil else { return nil }
                gap = groups.count
                rest = rest.dropFirst(2)
            } else if rest.hasPrefix(":") {
                rest = rest.dropFirst()
                guard !rest.isEmpty else { return nil }
            }
        }
        if let gap {
            guard groups.count < 8 else { return nil }
            groups.insert(contentsOf: Array(repeating: 0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for group in groups[0..<4] { high = high << 16 | UInt64(group) }
        for group in groups[4..<8] { low = low << 16 | UInt64(group) }
        return (high, low)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        (a.family, a.high, a.low) < (b.family, b.high, b.low)
    }

    /// The address in network byte order: 4 or 16 bytes.
    public var bytes: [UInt8] {
        if family == .v4 { return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    var groups: [UInt16] {
        (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * $0)) }
            + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * $0)) }
    }

    public var isLoopback: Bool {
        family == .v4 ? (low >> 24) == 127 : (high == 0 && low == 1)
    }

    public var description: String {
        if family == .v4 {
            // Hot in emit (every element, DNAT and match): digits written straight into the string.
            return String(unsafeUninitializedCapacity: 15) { buffer in
                var count = 0
                func put(_ byte: UInt8) {
                    buffer[count] = byte
                    count += 1
                }
                for shift in stride(from: 24, through: 0, by: -8) {
                    let octet = UInt8(truncatingIfNeeded: low >> UInt64(shift))
                    if shift != 24 { put(UInt8(ascii: ".")) }
                    if octet >= 100 { put(UInt8(ascii: "0") + octet / 100) }
                    if octet >= 10 { put(UInt8(ascii: "0") + octet / 10 % 10) }
                    put(UInt8(ascii: "0") + octet % 10)
                }
                return count
            }
        }
        let groups = self.groups
        // Longest run of two or more zero groups, first one on ties (RFC 5952 4.2).
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > bestLength {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    /// Text safe inside an nft identifier: IPv6 colons become dots (nft 1.0.6 accepts
    /// no quoted chain names, and ':' is not an identifier character).
    public var identifierText: String {
        family == .v4 ? description : description.replacingOccurrences(of: ":", with: ".")
    }

    /// This address plus one, or nil on overflow; used for interval-set ends.
    public var successor: IPAddress? {
        switch family {
        case .v4: return low == 0xFFFF_FFFF ? nil : IPAddress(v4: UInt32(low + 1))
        case .v6:
            if low == .max { return high == .max ? nil : IPAddress(v6: high + 1, 0) }
            return IPAddress(v6: high, low + 1)
        }
    }
}

/// An address prefix such as `10.0.0.0/8`; host bits are cleared on construction, as
/// kube-proxy's parsing does, so `10.1.2.3/8` means `10.0.0.0/8`.
public struct CIDR: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.prefixLength = prefixLength
        self.address = CIDR.mask(address, prefixLength)
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])),
            parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(parts[1]),
            length >= 0, length <= address.family.bitWidth
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    static func mask(_ address: IPAddress, _ length: Int) -> IPAddress {
        func keep(_ value: UInt64, bits: Int) -> UInt64 {
            bits <= 0 ? 0 : bits >= 64 ? value : value & ~(UInt64.max >> UInt64(bits))
        }
        switch address.family {
        case .v4:
            return IPAddress(v4: UInt32(keep(address.low << 32, bits: length) >> 32))
        case .v6:
            return IPAddress(v6: keep(address.high, bits: length), keep(address.low, bits: length - 64))
        }
    }

    public var family: IPFamily { address.family }

    public func contains(_ other: IPAddress) -> Bool {
        other.family == family && CIDR.mask(other, prefixLength) == address
    }

    /// The last address inside the prefix.
    public var lastAddress: IPAddress {
        let hostBits = family.bitWidth - prefixLength
        switch family {
        case .v4:
            let hostMask: UInt64 = hostBits >= 32 ? 0xFFFF_FFFF : (UInt64(1) << UInt64(hostBits)) - 1
            return IPAddress(v4: UInt32(address.low | hostMask))
        case .v6:
            let lowMask: UInt64 = hostBits >= 64 ? .max : hostBits == 0 ? 0 : (UInt64(1) << UInt64(hostBits)) - 1
            let highBits = hostBits - 64
            let highMask: UInt64 = highBits <= 0 ? 0 : highBits >= 64 ? .max : (UInt64(1) << UInt64(highBits)) - 1
            return IPAddress(v6: address.high | highMask, address.low | lowMask)
        }
    }

    public static func < (a: CIDR, b: CIDR) -> Bool { (a.address, a.prefixLength) < (b.address, b.prefixLength) }
    public var description: String { "\(address)/\(prefixLength)" }
}
