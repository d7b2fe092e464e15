/// Renders a `RuleGraph` as an `nft -f` script that replaces our tables atomically:
/// for each table, `table` (create if missing), `delete table`, then the full definition,
/// all in one transaction. Objects print in graph order, in `nft list table` layout.
public enum NftText {
    public static func render(_ graph: RuleGraph) -> String {
        let pieces = self.pieces(graph)
        var out = ""
        out.reserveCapacity(pieces.reduce(0) { $0 + $1.utf8.count })
        for piece in pieces { out += piece }
        return out
    }

    /// The same script as `render`, as pieces in order whose concatenation is the script:
    /// `compile` writes them one by one instead of joining a 30 MB string first (10,000 x
    /// 10: 31 MB less peak memory, and no copy of the whole text).
    public static func pieces(_ graph: RuleGraph) -> [String] {
        var out = "#!/usr/sbin/nft -f\n"
        let names = graph.tables.map { "\($0.family.rawValue) \($0.name)" }.joined(separator: ", ")
        out += "# svc2nft ruleset: replaces the tables \(names) in one transaction; touches no other table.\n"
        for note in graph.notes { out += "# \(note)\n" }
        var pieces: [String] = []
        for table in graph.tables {
            out += "\n"
            render(table, into: &out, pieces: &pieces)
        }
        pieces.append(out)
        return pieces
    }

    /// Appends `table` to `out`; when its chains are rendered, `out` and then each chain
    /// piece move to `pieces`, and `out` goes on empty.
    static func render(_ table: Table, into out: inout String, pieces: inout [String]) {
        var text = TextBytes()
        let header = "table \(table.family.rawValue) \(table.name)"
        text.append("\(header)\ndelete \(header)\n\(header) {\n")
        if let comment = table.comment { text.append("\tcomment \(quoted(comment))\n") }
        var first = true
        for set in table.sets {
            if !first { text.append("\n" as StaticString) }
            first = false
            render(set, family: table.family, into: &text)
        }
        // Chains are nearly all of the text: rendered in pieces on all cores, kept in order.
        let chains = table.chains
        let rendered = Parallel.chunks(chains.count, perCore: 16) { _, range in
            var piece = TextBytes()
            for index in range {
                if index > 0 { piece.append("\n" as StaticString) }
                render(chains[index], family: table.family, into: &piece)
            }
            return piece.string
        }
        if !first, !chains.isEmpty { text.append("\n" as StaticString) }
        out += text.string
        pieces.append(out)
        pieces += rendered
        out = "}\n"
    }

    static func render(_ set: NamedSet, family: TableFamily, into out: inout TextBytes) {
        out.append("\t\(set.isVerdictMap ? "map" : "set") \(set.name) {\n")
        out.append("\t\ttype \(set.keyType.map(\.rawValue).joined(separator: " . "))\(set.isVerdictMap ? " : verdict" : "")\n")
        if let timeout = set.timeoutSeconds {
            out.append("\t\tsize \(NamedSet.dynamicSize)\n\t\tflags dynamic,timeout\n\t\ttimeout \(duration(timeout))\n")
        }
        if let comment = set.comment { out.append("\t\tcomment \(quoted(comment))\n") }
        if !set.elements.isEmpty {
            out.append("\t\telements = { " as StaticString)
            for (index, item) in set.elements.enumerated() {
                if index > 0 { out.append(",\n\t\t\t     " as StaticString) }
                append(item, into: &out)
            }
            out.append(" }\n" as StaticString)
        }
        out.append("\t}\n" as StaticString)
    }

    static func append(_ element: SetElement, into out: inout TextBytes) {
        for (index, value) in element.key.enumerated() {
            if index > 0 { out.append(" . " as StaticString) }
            switch value {
            case .address(let ip): out.append(ip.description)
            case .proto(let proto): out.append(proto.rawValue)
            case .port(let port): out.append(decimal: Int(port))
            }
        }
        if let verdict = element.verdict {
            out.append(" : " as StaticString)
            append(verdict, into: &out)
        }
    }

    static func render(_ chain: Chain, family: TableFamily, into out: inout TextBytes) {
        out.append("\tchain " as StaticString)
        out.append(chain.name.text)
        out.append(" {\n" as StaticString)
        if let comment = chain.comment {
            out.append("\t\tcomment \"" as StaticString)
            out.append(comment.text)
            out.append("\"\n" as StaticString)
        }
        if case .base(let type, let hook, let priority) = chain.kind {
            out.append("\t\ttype \(type.rawValue) hook \(hook.rawValue) priority \(priorityText(priority)); policy accept;\n")
        }
        for rule in chain.rules {
            out.append("\t\t" as StaticString)
            append(rule, family: family, into: &out)
            out.append("\n" as StaticString)
        }
        out.append("\t}\n" as StaticString)
    }

    /// Priorities print as numbers: nft accepts `dstnat` only on prerouting and `srcnat`
    /// only on postrouting (nft 1.0.6), and a number reads the same on every hook.
    static func priorityText(_ priority: Int) -> String { String(priority) }

    /// `10800s` as nft prints durations: `3h`, `1h30m`, `45s`.
    static func duration(_ seconds: Int) -> String {
        var rest = seconds
        var out = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out.isEmpty ? "0s" : out
    }

    public static func text(_ rule: Rule, family: TableFamily) -> String {
        var out = TextBytes()
        append(rule, family: family, into: &out)
        return out.string
    }

    static func append(_ rule: Rule, family: TableFamily, into out: inout TextBytes) {
        for (index, expr) in rule.exprs.enumerated() {
            if index > 0 { out.append(" " as StaticString) }
            append(expr, family: family, into: &out)
        }
        if let comment = rule.comment {
            out.append(" comment \"" as StaticString)
            out.append(comment.text)
            out.append("\"" as StaticString)
        }
    }

    static func quoted(_ comment: Comment) -> String { "\"\(comment.text)\"" }

    public static func text(_ verdict: Verdict) -> String {
        var out = TextBytes()
        append(verdict, into: &out)
        return out.string
    }

    static func append(_ verdict: Verdict, into out: inout TextBytes) {
        switch verdict {
        case .accept: out.append("accept" as StaticString)
        case .drop: out.append("drop" as StaticString)
        case .return: out.append("return" as StaticString)
        case .jump(let chain):
            out.append("jump " as StaticString)
            out.append(chain.text)
        case .goto(let chain):
            out.append("goto " as StaticString)
            out.append(chain.text)
        }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func operand(_ operand: AddressOperand) -> String {
        switch operand {
        case .address(let ip): ip.description
        case .prefix(let cidr): prefix(cidr)
        case .prefixes(let cidrs): "{ " + cidrs.map(prefix).joined(separator: ", ") + " }"
        case .named(let set): "@\(set)"
        }
    }

    static func prefix(_ cidr: CIDR) -> String {
        cidr.prefixLength == cidr.family.bitWidth ? cidr.address.description : cidr.description
    }

    /// One expression, appended piece by piece (the hot loop of emit: no temporary
    /// string per expression).
    static func append(_ expr: Expr, family: TableFamily, into out: inout TextBytes) {
        switch expr {
        case .ctStateNew: out.append("ct state new" as StaticString)
        case .address(let field, let negated, let value):
            out.append(family.rawValue)
            out.append(field == .source ? " saddr " as StaticString : " daddr ")
            if negated { out.append("!= " as StaticString) }
            switch value {
            case .address(let ip): out.append(ip.description)
            default: out.append(operand(value))
            }
        case .destinationPort(let proto, let port):
            out.append(proto.rawValue)
            out.append(" dport " as StaticString)
            out.append(decimal: Int(port))
        case .l4Protocol(let proto):
            out.append("meta l4proto " as StaticString)
            out.append(proto.rawValue)
        case .fibLocal(let field): out.append("fib \(field.rawValue) type local")
        case .markBitClear(let bit): out.append("meta mark & \(hex(bit)) == \(hex(0))")
        case .markSet(let bit): out.append("meta mark set meta mark | \(hex(bit))")
        case .markToggle(let bit): out.append("meta mark set meta mark ^ \(hex(bit))")
        case .verdictMap(.addressProtocolPort, let map): out.append("\(family.rawValue) daddr . meta l4proto . th dport vmap @\(map)")
        case .verdictMap(.protocolPort, let map): out.append("meta l4proto . th dport vmap @\(map)")
        case .randomPick(let modulus, let share):
            out.append("numgen random mod " as StaticString)
            out.append(decimal: modulus)
            if share == 1 {
                out.append(" 0" as StaticString)
            } else {
                out.append(" < " as StaticString)
                out.append(decimal: share)
            }
        case .rememberSource(let set): out.append("update @\(set) { \(family.rawValue) saddr }")
        case .dnat(let address, let port):
            out.append("dnat to " as StaticString)
            if address.family == .v4 {
                out.append(address.description)
            } else {
                out.append("[" as StaticString)
                out.append(address.description)
                out.append("]" as StaticString)
            }
            out.append(":" as StaticString)
            out.append(decimal: Int(port))
        case .masqueradeFullyRandom: out.append("masquerade fully-random" as StaticString)
        case .reject: out.append("reject" as StaticString)
        case .verdict(let verdict): append(verdict, into: &out)
        }
    }

    public static func text(_ expr: Expr, family: TableFamily) -> String {
        var out = TextBytes()
        append(expr, family: family, into: &out)
        return out.string
    }
}

/// nft text as UTF-8 bytes, appended piece by piece: emit writes 30 MB for 10,000 x 10,
/// and appending to a `String` pays its bookkeeping (capacity, count and ASCII flags) on
/// each of the millions of small appends (about 6% of a compile's samples in `perf`).
struct TextBytes {
    private(set) var bytes: [UInt8] = []

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ text: String) {
        if let _ = text.utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) { return }
        bytes.append(contentsOf: text.utf8)
    }

    /// `String(value)`, without the string.
    mutating func append(decimal value: Int) {
        guard value >= 0 else {
            append(String(value))
            return
        }
        var digits: (UInt64, UInt8) = (0, 0)  // up to 8 digits, last first, in one word
        var rest = value
        guard rest < 100_000_000 else {
            append(String(value))
            return
        }
        repeat {
            digits.0 = digits.0 << 8 | UInt64(UInt8(ascii: "0") + UInt8(rest % 10))
            digits.1 += 1
            rest /= 10
        } while rest > 0
        for _ in 0..<digits.1 {
            bytes.append(UInt8(truncatingIfNeeded: digits.0))
            digits.0 >>= 8
        }
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }
}
