import Foundation

/// The anchor for "one Service changed": what kube-proxy's nftables proxier sends on a
/// partial sync, run with `nft -f` on a namespace that holds the whole N-Service table.
/// kube-proxy's transaction for a Service whose endpoints changed adds the new endpoint
/// chains (`add chain`, `flush chain`, their rules), flushes and refills the Service's
/// chains, updates its dispatch map elements (`delete element`, `add element`) and
/// flushes and deletes the chains no longer used. The delta here is exactly that,
/// computed from two compiled rulesets (before and after the change): our chain names
/// carry their content's version, so a chain whose rules changed is a new name and the
/// old one goes.
enum PartialSync {
    /// A ruleset as `compile` prints it: per table (`ip svc2nft`), its chains' rule lines
    /// by chain name, and the elements of each set and map.
    struct Ruleset {
        var chains: [String: [String]] = [:]
        var chainOrder: [String] = []
        var elements: [String: [String]] = [:]
    }

    static func parse(_ text: String) -> Ruleset {
        var ruleset = Ruleset()
        var table = ""
        var chain: String? = nil
        var set: String? = nil
        var inElements = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("table "), line.hasSuffix(" {") {
                table = String(line.dropFirst(6).dropLast(2))
            } else if line.hasPrefix("\tchain "), line.hasSuffix(" {") {
                let name = "\(table) " + line.dropFirst(7).dropLast(2)
                chain = name
                ruleset.chains[name] = []
                ruleset.chainOrder.append(name)
            } else if line.hasPrefix("\tset ") || line.hasPrefix("\tmap "), line.hasSuffix(" {") {
                set = "\(table) " + line.dropFirst(5).dropLast(2)
            } else if line == "\t}" {
                chain = nil
                set = nil
                inElements = false
            } else if let chain, line.hasPrefix("\t\t") {
                let body = line.dropFirst(2)
                if body.hasPrefix("comment ") || body.hasPrefix("type ") { continue }
                ruleset.chains[chain]!.append(String(body))
            } else if let set {
                var item = line.trimmingCharacters(in: .whitespaces)
                if item.hasPrefix("elements = { ") {
                    inElements = true
                    item = String(item.dropFirst("elements = { ".count))
                }
                guard inElements else { continue }
                if item.hasSuffix(" }") {
                    item = String(item.dropLast(2))
                    inElements = false
                }
                if item.hasSuffix(",") { item = String(item.dropLast()) }
                ruleset.elements[set, default: []].append(item)
            }
        }
        return ruleset
    }

    /// The `nft -f` script that turns `old` into `new` the way kube-proxy's partial sync
    /// does; also how many chains it adds and deletes.
    static func delta(from old: Ruleset, to new: Ruleset) -> (script: String, added: Int, deleted: Int) {
        let added = new.chainOrder.filter { old.chains[$0] == nil }
        let deleted = old.chainOrder.filter { new.chains[$0] == nil }
        var out = ""
        for chain in added { out += "add chain \(chain)\nflush chain \(chain)\n" }
        for chain in added {
            for rule in new.chains[chain]! { out += "add rule \(chain) \(rule)\n" }
        }
        for set in Set(old.elements.keys).union(new.elements.keys).sorted() {
            let before = old.elements[set] ?? [], after = new.elements[set] ?? []
            let kept = Set(before).intersection(after)
            for element in before where !kept.contains(element) {
                let key = element.components(separatedBy: " : ").first!
                out += "delete element \(set) { \(key) }\n"
            }
            for element in after where !kept.contains(element) { out += "add element \(set) { \(element) }\n" }
        }
        for chain in deleted { out += "flush chain \(chain)\n" }
        for chain in deleted { out += "delete chain \(chain)\n" }
        return (out, added.count, deleted.count)
    }

    /// Loads `ruleset` into `namespace` with `nft -f`, then applies `deltas` in turn
    /// `count` times with `nft -f`; the seconds of each (nil when any failed).
    static func run(namespace: String, ruleset: String, deltas: [String], count: Int, timeout: Double) -> [Double]? {
        guard Spawn.run(["ip", "netns", "exec", namespace, "nft", "-f", ruleset], timeout: timeout).ok else { return nil }
        var times: [Double] = []
        for index in 0..<count {
            let result = Spawn.run(["ip", "netns", "exec", namespace, "nft", "-f", deltas[index % deltas.count]], timeout: timeout)
            guard result.ok else { return nil }
            times.append(result.seconds)
        }
        return times
    }
}
