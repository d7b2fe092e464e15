import CNftnl
import Foundation
import Svc2NftCore

/// One of our tables as the kernel has it, rendered for comparison: each chain's rules
/// as libnftnl prints them (handles and anonymous set numbers removed) and each set's
/// elements as "key -> verdict". The same rendering of the compiled graph is
/// `LiveTable.expected`, so a difference is a real difference.
public struct LiveTable: Equatable, Sendable {
    public var chains: [String: [String]] = [:]
    public var sets: [String: [String]] = [:]

    public init() {}

    /// What the kernel would hold after `apply` of `table`.
    public static func expected(_ table: Table) -> LiveTable {
        var live = LiveTable()
        var scratch = Batch()
        let encoder = ExprEncoder(family: table.family, table: table.name)
        for chain in table.chains {
            live.chains[chain.name.text] = chain.rules.map { rule in
                let r = NftRule(family: K.family(table.family), table: table.name, chain: chain.name.text)
                for expr in rule.exprs { encoder.encode(expr, into: r, batch: &scratch, owner: .batch) }
                if let comment = rule.comment {
                    var data = UserData()
                    data.put(0, string: comment.text)
                    r.setUserData(data.bytes)
                }
                return render(r.pointer)
            }
        }
        for set in table.sets where set.timeoutSeconds == nil {
            live.sets[set.name.text] = set.elements.map { element in
                elementText(key: K.keyBytes(element.key), verdict: element.verdict.map(K.verdict))
            }.sorted()
        }
        _ = scratch.finalize()
        return live
    }

    /// libnftnl's text of a rule's expressions, without the header line (it carries the
    /// handle) and with anonymous set numbers blanked.
    static func render(_ rule: OpaquePointer?) -> String {
        var buffer = [CChar](repeating: 0, count: 2048)
        let needed = Int(nftnl_rule_snprintf(&buffer, buffer.count, rule, UInt32(NFTNL_OUTPUT_DEFAULT.rawValue), 0))
        if needed >= buffer.count {
            buffer = [CChar](repeating: 0, count: needed + 1)
            _ = nftnl_rule_snprintf(&buffer, buffer.count, rule, UInt32(NFTNL_OUTPUT_DEFAULT.rawValue), 0)
        }
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // The kernel reports defaults it filled in: lookup flags 0, NAT max registers equal
        // to the min ones, NF_NAT_RANGE_MAP_IPS, a dynset timeout of 0 (the set's own
        // timeout applies). They are not differences. Each pattern only runs on lines
        // that can hold it (regular expressions on every line made `diff` take 90 s at
        // 10,000 Services).
        let body = text.split(separator: "\n").dropFirst().map { sub -> String in
            let bytes = Array(sub.utf8)
            var line = String(sub)
            if has(bytes, "__set") || has(bytes, "__map") {
                line = line.replacingOccurrences(of: #"__(set|map)\d+"#, with: "__$1", options: .regularExpression)
                    .replacingOccurrences(of: #"__(set|map)%d"#, with: "__$1", options: .regularExpression)
            }
            if has(bytes, "[ lookup") {
                line = line.replacingOccurrences(of: #"(\[ lookup [^\]]*?) 0x0 \]"#, with: "$1 ]", options: .regularExpression)
            }
            if has(bytes, "[ nat") {
                line = line.replacingOccurrences(of: #" (addr|proto)_max reg \d+"#, with: "", options: .regularExpression)
                    .replacingOccurrences(of: #"(\[ nat [^\]]*flags) 0x[23] \]"#, with: "$1 ]", options: .regularExpression)
            }
            if has(bytes, "[ dynset") {
                line = line.replacingOccurrences(of: #"(\[ dynset [^\]]*?) timeout 0ms \]"#, with: "$1 ]", options: .regularExpression)
            }
            return line.trimmingCharacters(in: .whitespaces)
        }
        return body.joined(separator: " ")
    }

    /// Whether `needle` occurs in `bytes` (Foundation's `contains` goes through NSString).
    static func has(_ bytes: [UInt8], _ needle: StaticString) -> Bool {
        let count = needle.utf8CodeUnitCount
        guard count <= bytes.count else { return false }
        return needle.withUTF8Buffer { pattern in
            var start = 0
            while start + count <= bytes.count {
                var offset = 0
                while offset < count, bytes[start + offset] == pattern[offset] { offset += 1 }
                if offset == count { return true }
                start += 1
            }
            return false
        }
    }

    static func elementText(_ element: KernelElement) -> String {
        elementText(key: element.key, verdict: element.verdictCode.map { code in (code, element.chain) })
    }

    static func elementText(key: [UInt8], verdict: (code: Int32, chain: String?)?) -> String {
        let hex = key.map { String($0, radix: 16).leftPadded(2) }.joined()
        guard let verdict else { return hex }
        return "\(hex) -> \(verdict.code) \(verdict.chain ?? "")"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
