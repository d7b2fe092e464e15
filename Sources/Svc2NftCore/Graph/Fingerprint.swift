/// A stable 64-bit FNV-1a fingerprint of graph values, fed field by field. Used to name
/// chains after their content (`Versioning`); independent of Swift's per-process
/// `hashValue` seed, so the same content gets the same name in every run.
struct Fingerprint {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ byte: UInt8) {
        value ^= UInt64(byte)
        value &*= 0x100_0000_01b3
    }

    mutating func add(_ number: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { add(UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
    }
    mutating func add(_ number: Int) { add(UInt64(bitPattern: Int64(number))) }
    mutating func add(_ text: String) {
        // Every chain name and rule comment passes here (3% of a 10,000-Service compile's
        // samples): the loop runs over the string's bytes in place, in a local.
        var value = value
        let scanned: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes {
                value ^= UInt64(byte)
                value &*= 0x100_0000_01b3
            }
        }
        if scanned == nil {
            for byte in text.utf8 {
                value ^= UInt64(byte)
                value &*= 0x100_0000_01b3
            }
        }
        self.value = value
        add(UInt8(0))
    }

    mutating func add(_ address: IPAddress) {
        add(address.family == .v4 ? UInt8(4) : UInt8(6))
        add(address.high)
        add(address.low)
    }

    mutating func add(_ verdict: Verdict) {
        switch verdict {
        case .accept: add(UInt8(1))
        case .drop: add(UInt8(2))
        case .return: add(UInt8(3))
        case .jump(let c): add(UInt8(4)); add(c.text)
        case .goto(let c): add(UInt8(5)); add(c.text)
        }
    }

    mutating func add(_ operand: AddressOperand) {
        switch operand {
        case .address(let ip): add(UInt8(1)); add(ip)
        case .prefix(let cidr): add(UInt8(2)); add(cidr.address); add(cidr.prefixLength)
        case .prefixes(let cidrs): add(UInt8(3)); add(cidrs.count); for c in cidrs { add(c.address); add(c.prefixLength) }
        case .named(let set): add(UInt8(4)); add(set.text)
        }
    }

    mutating func add(_ expr: Expr) {
        switch expr {
        case .ctStateNew: add(UInt8(1))
        case .address(let field, let negated, let operand): add(UInt8(2)); add(field.rawValue); add(negated ? UInt8(1) : 0); add(operand)
        case .destinationPort(let p, let port): add(UInt8(3)); add(p.number); add(Int(port))
        case .l4Protocol(let p): add(UInt8(4)); add(p.number)
        case .fibLocal(let field): add(UInt8(5)); add(field.rawValue)
        case .markBitClear(let bit): add(UInt8(6)); add(Int(bit))
        case .markSet(let bit): add(UInt8(7)); add(Int(bit))
        case .markToggle(let bit): add(UInt8(8)); add(Int(bit))
        case .verdictMap(let key, let map): add(UInt8(9)); add(key == .addressProtocolPort ? UInt8(1) : 2); add(map.text)
        case .rememberSource(let set): add(UInt8(11)); add(set.text)
        case .dnat(let ip, let port): add(UInt8(12)); add(ip); add(Int(port))
        case .masqueradeFullyRandom: add(UInt8(13))
        case .reject: add(UInt8(14))
        case .verdict(let v): add(UInt8(15)); add(v)
        // A share of 1 hashes as before shares existed, so chain names did not change.
        case .randomPick(let modulus, 1): add(UInt8(16)); add(modulus)
        case .randomPick(let modulus, let share): add(UInt8(17)); add(modulus); add(share)
        }
    }

    mutating func add(_ rule: Rule) {
        add(rule.exprs.count)
        for expr in rule.exprs { add(expr) }
        add(rule.comment?.text ?? "")
    }

    mutating func add(_ kind: ChainKind) {
        switch kind {
        case .regular: add(UInt8(0))
        case .base(let type, let hook, let priority): add(type.rawValue); add(hook.rawValue); add(priority)
        }
    }

    /// 8 base32 characters.
    var text: String {
        let value = value
        return String(unsafeUninitializedCapacity: 8) { buffer in
            for index in 0..<8 {
                let digit = UInt8(truncatingIfNeeded: (value >> UInt64(5 * index)) & 31)
                buffer[index] = digit < 26 ? UInt8(ascii: "a") + digit : UInt8(ascii: "2") + digit - 26
            }
            return 8
        }
    }
}
