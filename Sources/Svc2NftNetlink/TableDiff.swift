import Svc2NftCore

/// Live kernel table vs. what `compile` would produce, said in Service terms: which
/// Service ports would be added, removed or changed (and which endpoints), which
/// Service addresses differ, and edits made behind svc2nft's back (rules added to or
/// removed from a chain, foreign chains or sets). Empty when they are equal.
public enum TableDiff {
    /// The Service port a chain or set name belongs to (nil: a fixed or foreign name).
    static func port(_ name: String) -> ServicePortName? { ChainIdentity(parsing: name)?.servicePort }

    public static func compare(expected: LiveTable, live: LiveTable?, family: TableFamily, table: String) -> [String] {
        guard let live else { return ["table \(family.rawValue) \(table) is absent: everything would be added"] }
        var lines: [String] = []
        let expectedNames = Set(expected.chains.keys)
        let liveNames = Set(live.chains.keys)

        // Service ports, by the identity in their chain names.
        var byPort: [ServicePortName: (expected: Set<String>, live: Set<String>)] = [:]
        for name in expectedNames.union(liveNames) {
            guard let port = port(name) else { continue }
            var entry = byPort[port] ?? ([], [])
            if expectedNames.contains(name) { entry.expected.insert(name) }
            if liveNames.contains(name) { entry.live.insert(name) }
            byPort[port] = entry
        }
        for (port, entry) in byPort.sorted(by: { $0.key < $1.key }) where entry.expected != entry.live {
            let service = port.readable
            if entry.live.isEmpty {
                lines.append("added: Service port \(service) is not in the kernel")
            } else if entry.expected.isEmpty {
                lines.append("removed: Service port \(service) is in the kernel but not in the input")
            } else {
                func endpoints(_ names: Set<String>) -> Set<String> {
                    Set(names.compactMap { ChainIdentity(parsing: $0) }.filter { $0.role == .endpoint }.compactMap(\.endpoint?.readable))
                }
                let added = endpoints(entry.expected).subtracting(endpoints(entry.live)).sorted()
                let removed = endpoints(entry.live).subtracting(endpoints(entry.expected)).sorted()
                var detail: [String] = []
                if !added.isEmpty { detail.append("endpoints added: \(added.joined(separator: ", "))") }
                if !removed.isEmpty { detail.append("endpoints removed: \(removed.joined(separator: ", "))") }
                if detail.isEmpty { detail.append("policy, session affinity or options differ") }
                lines.append("changed: Service port \(service): \(detail.joined(separator: "; "))")
            }
        }

        // Fixed chains, and chains no svc2nft ruleset has.
        for name in expectedNames.subtracting(liveNames).sorted() where port(name) == nil {
            lines.append("missing: chain \(name)")
        }
        for name in liveNames.subtracting(expectedNames).sorted() where port(name) == nil {
            lines.append("foreign: chain \(name) is not part of svc2nft's ruleset")
        }

        // Same chain, other rules: an edit behind svc2nft's back.
        for name in expectedNames.intersection(liveNames).sorted() where expected.chains[name] != live.chains[name] {
            let want = expected.chains[name] ?? [], have = live.chains[name] ?? []
            let whose = port(name).map { " (Service \($0.readable))" } ?? ""
            if have.count != want.count {
                lines.append("edited: chain \(name)\(whose) has \(have.count) rule\(have.count == 1 ? "" : "s"), expected \(want.count)")
            } else {
                let index = (want.indices.first { want[$0] != have[$0] } ?? 0) + 1
                lines.append("edited: chain \(name)\(whose): rule \(index) differs")
            }
        }

        // Sets: fixed ones compared element by element; per-Service ones by name.
        for name in Set(expected.sets.keys).union(live.sets.keys).sorted() {
            let want = expected.sets[name], have = live.sets[name]
            if let owner = port(name) {
                if want == nil && have != nil && !byPort.keys.contains(owner) {
                    lines.append("foreign: set \(name)")
                }
                if let want, let have, want != have { lines.append("edited: map \(name) has other elements than its name says") }
                continue
            }
            guard let want else {
                lines.append("foreign: set \(name) is not part of svc2nft's ruleset")
                continue
            }
            guard let have else {
                lines.append("missing: set \(name)")
                continue
            }
            let added = Set(want).subtracting(have), removed = Set(have).subtracting(want)
            if !added.isEmpty || !removed.isEmpty {
                lines.append(
                    "different: \(name): \(added.count) element\(added.count == 1 ? "" : "s") to add, \(removed.count) to remove"
                        + describe(added, removed))
            }
        }
        return lines.map { "\(family.rawValue) \(table): \($0)" }
    }

    /// Names the Services behind element differences (from the chains they point to).
    static func describe(_ added: Set<String>, _ removed: Set<String>) -> String {
        func services(_ elements: Set<String>) -> [String] {
            Set(
                elements.compactMap { element -> String? in
                    guard let chain = element.split(separator: " ").last, let port = port(String(chain)) else { return nil }
                    return port.readable
                }
            ).sorted()
        }
        var parts: [String] = []
        if !services(added).isEmpty { parts.append("for \(services(added).joined(separator: ", "))") }
        if !services(removed).isEmpty { parts.append("stale for \(services(removed).joined(separator: ", "))") }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")"
    }
}
