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
        let header = "table \(table.family.rawValue) \(table.name)"
        out += "\(header)\ndelete \(header)\n\(header) {\n"
        if let comment = table.comment { out += "\tcomment \(quoted(comment))\n" }
        var first = true
        for set in table.sets {
            if !first { out += "\n" }
            first = false
            render(set, family: table.family, into: &out)
        }
        // Chains are nearly all of the text: rendered in pieces on all cores, kept in order.
        let chains = table.chains
        let rendered = Parallel.chunks(chains.count, perCore: 16) { _, range in
            var piece = ""
            for index in range {
                if index > 0 { piece += "\n" }
                render(chains[index], family: table.family, into: &piece)
            }
            return piece
        }
        if !first, !chains.isEmpty { out += "\n" }
        pieces.append(out)
        pieces += rendered
        out = "}\n"
    }

    static func render(_ set: NamedSet, family: TableFamily, into out: inout String) {
        out += "\t\(set.isVerdictMap ? "map" : "set") \(set.name) {\n"
        out += "\t\ttype \(set.keyType.map(\.rawValue).joined(separator: " . "))\(set.isVerdictMap ? " : verdict" : "")\n"
        if let timeout = set.timeoutSeconds {
            out += "\t\tsize \(NamedSet.dynamicSize)\n\t\tflags dynamic,timeout\n\t\ttimeout \(duration(timeout))\n"
        }
        if let comment = set.comment { out += "\t\tcomment \(quoted(comment))\n" }
        if !set.elements.isEmpty {
            out += "\t\telements = { "
            for (index, item) in set.elements.enumerated() {
                if index > 0 { out += ",\n\t\t\t     " }
                append(item, into: &out)
            }
            out += " }\n"
        }
        out += "\t}\n"
    }

    static func append(_ element: SetElement, into out: inout String) {
        for (index, value) in element.key.enumerated() {
            if index > 0 { out += " . " }
            switch value {
            case .address(let ip): out += ip.description
            case .proto(let proto): out += proto.rawValue
            case .port(let port): out += String(port)
            }
        }
        if let verdict = element.verdict {
            out += " : "
            out += text(verdict)
        }
    }

    static func render(_ chain: Chain, family: TableFamily, into out: inout String) {
        out += "\tchain "
        out += chain.name.text
        out += " {\n"
        if let comment = chain.comment {
            out += "\t\tcomment \""
            out += comment.text
            out += "\"\n"
        }
        if case .base(let type, let hook, let priority) = chain.kind {
            out += "\t\ttype \(type.rawValue) hook \(hook.rawValue) priority \(priorityText(priority)); policy accept;\n"
        }
        for rule in chain.rules {
            out += "\t\t"
            append(rule, family: family, into: &out)
            out += "\n"
        }
        out += "\t}\n"
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
        var out = ""
        append(rule, family: family, into: &out)
        return out
    }

    static func append(_ rule: Rule, family: TableFamily, into out: inout String) {
        for (index, expr) in rule.exprs.enumerated() {
            if index > 0 { out += " " }
            append(expr, family: family, into: &out)
        }
        if let comment = rule.comment {
            out += " comment \""
            out += comment.text
            out += "\""
        }
    }

    static func quoted(_ comment: Comment) -> String { "\"\(comment.text)\"" }

    public static func text(_ verdict: Verdict) -> String {
        switch verdict {
        case .accept: "accept"
        case .drop: "drop"
        case .return: "return"
        case .jump(let chain): "jump \(chain)"
        case .goto(let chain): "goto \(chain)"
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
    static func append(_ expr: Expr, family: TableFamily, into out: inout String) {
        switch expr {
        case .ctStateNew: out += "ct state new"
        case .address(let field, let negated, let value):
            out += family.rawValue
            out += field == .source ? " saddr " : " daddr "
            if negated { out += "!= " }
            out += operand(value)
        case .destinationPort(let proto, let port):
            out += proto.rawValue
            out += " dport "
            out += String(port)
        case .l4Protocol(let proto):
            out += "meta l4proto "
            out += proto.rawValue
        case .fibLocal(let field): out += "fib \(field.rawValue) type local"
        case .markBitClear(let bit): out += "meta mark & \(hex(bit)) == \(hex(0))"
        case .markSet(let bit): out += "meta mark set meta mark | \(hex(bit))"
        case .markToggle(let bit): out += "meta mark set meta mark ^ \(hex(bit))"
        case .verdictMap(.addressProtocolPort, let map): out += "\(family.rawValue) daddr . meta l4proto . th dport vmap @\(map)"
        case .verdictMap(.protocolPort, let map): out += "meta l4proto . th dport vmap @\(map)"
        case .randomPick(let modulus):
            out += "numgen random mod "
            out += String(modulus)
            out += " 0"
        case .rememberSource(let set): out += "update @\(set) { \(family.rawValue) saddr }"
        case .dnat(let address, let port):
            out += "dnat to "
            if address.family == .v4 {
                out += address.description
            } else {
                out += "["
                out += address.description
                out += "]"
            }
            out += ":"
            out += String(port)
        case .masqueradeFullyRandom: out += "masquerade fully-random"
        case .reject: out += "reject"
        case .verdict(.jump(let chain)):
            out += "jump "
            out += chain.text
        case .verdict(.goto(let chain)):
            out += "goto "
            out += chain.text
        case .verdict(let verdict): out += text(verdict)
        }
    }

    public static func text(_ expr: Expr, family: TableFamily) -> String {
        var out = ""
        append(expr, family: family, into: &out)
        return out
    }
}
