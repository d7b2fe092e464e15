/// Names chains after their content (`svc-shop/web/tcp/http_k3jd7x2a`) and per-Service
/// sets after their definition, as lowering builds them.
///
/// Why: nf_tables runs a packet through one generation's rules (each chain keeps its
/// rules per generation) but looks set elements up in the newest generation. A packet
/// crossing a commit can therefore follow a new map element into a chain created in
/// that same commit, whose rules for the packet's older generation are still empty,
/// and fall through without DNAT; or meet an old rule whose map was refilled. Both were
/// measured (about 1 connection in 70,000 under repeated applies). So `apply` never
/// points a map element at a chain it creates in the same transaction, and picks
/// endpoints with rules, not maps: a chain whose content changed is rewritten in place
/// (its rules change per generation, consistently) and renamed to its new content name,
/// so every element and rule that pointed at it still does (see `GraphEncoder`). The
/// names say which chains changed without reading any rule back.
///
/// Lowering builds chains bottom-up (endpoint chains, then policy chains, then external
/// chains), and a chain's fingerprint covers the names it jumps to, so a change ripples
/// to every chain that leads to it. Base chains and the fixed chains with constant
/// content keep kube-proxy's names.
enum Versioning {
    static func chain(_ base: String, kind: ChainKind = .regular, comment: String?, rules: [Rule], owner: Owner?) -> Chain {
        chain(base, kind: kind, preparedComment: comment.map(Comment.init), rules: rules, owner: owner)
    }

    /// The same, with the comment already checked (shared by many chains).
    static func chain(_ base: String, kind: ChainKind = .regular, preparedComment comment: Comment?, rules: [Rule], owner: Owner?) -> Chain
    {
        var print = Fingerprint()
        print.add(kind)
        print.add(comment?.text ?? "")
        print.add(rules.count)
        for rule in rules { print.add(rule) }
        return Chain(name: ChainName(ChainIdentity.Version.name(base, print.text)), kind: kind, comment: comment, rules: rules, owner: owner)
    }

    /// Most choices one pick chain makes (the policy chain or a group chain).
    static let pickFanOut = 16

    /// A policy chain: `rules`, then a uniform pick among `verdicts` (see
    /// `Expr.randomPick`); and, past `pickFanOut` verdicts, the group chains it picks
    /// among, `base/pick<level>-<index>`.
    ///
    /// Why groups: a cascade evaluates half its rules on average, so a new connection to
    /// a Service with 5,000 endpoints took 4.4x as long as one with 10 (`svc2nft-bench
    /// endpoint-choice`). Groups of at most `pickFanOut`, then groups of groups, make
    /// it a few cascades of at most 16 rules: each rule takes its group's share of what
    /// is left (`numgen random mod R < w`), so every endpoint still gets exactly 1/N.
    /// Up to 16 endpoints nothing changes.
    static func policyChain(_ base: String, comment: String, rules: [Rule], verdicts: [Verdict], owner: Owner?)
        -> (policy: Chain, groups: [Chain])
    {
        var choices = verdicts.map { (verdict: $0, weight: 1) }
        var groups: [Chain] = []
        var level = 1
        while choices.count > pickFanOut {
            let count = (choices.count + pickFanOut - 1) / pickFanOut
            var next: [(verdict: Verdict, weight: Int)] = []
            for index in 0..<count {
                // Balanced: sizes differ by at most one.
                let members = Array(choices[index * choices.count / count..<(index + 1) * choices.count / count])
                let group = chain(
                    ChainIdentity.pickGroupName(policy: base, .init(level: level, index: index)), comment: "\(comment), group \(level)-\(index)",
                    rules: picks(members), owner: owner)
                groups.append(group)
                next.append((.goto(group.name), members.reduce(0) { $0 + $1.weight }))
            }
            choices = next
            level += 1
        }
        return (chain(base, comment: comment, rules: rules + picks(choices), owner: owner), groups)
    }

    /// The cascade: each choice but the last takes its weight out of what is left.
    private static func picks(_ choices: [(verdict: Verdict, weight: Int)]) -> [Rule] {
        var left = choices.reduce(0) { $0 + $1.weight }
        return choices.map { choice in
            defer { left -= choice.weight }
            return Rule(
                left > choice.weight
                    ? [.randomPick(modulus: left, share: choice.weight), .verdict(choice.verdict)] : [.verdict(choice.verdict)])
        }
    }

    static func setName(_ base: String, keyType: [KeyType], isVerdictMap: Bool, timeoutSeconds: Int?) -> SetName {
        var print = Fingerprint()
        for type in keyType { print.add(type.rawValue) }
        print.add(isVerdictMap ? UInt8(1) : 0)
        print.add(timeoutSeconds ?? 0)
        return SetName(ChainIdentity.Version.name(base, print.text))
    }
}

extension Rule {
    /// The rule with jump and goto targets renamed (`apply` refers to a chain by its
    /// current name until the rename at the end of its transaction).
    public func retargeted(_ names: [ChainName: ChainName]) -> Rule {
        guard !names.isEmpty else { return self }
        var rule = self
        rule.exprs = exprs.map { expr in
            switch expr {
            case .verdict(let verdict): .verdict(verdict.retargeted(names))
            default: expr
            }
        }
        return rule
    }
}

extension Verdict {
    public func retargeted(_ names: [ChainName: ChainName]) -> Verdict {
        switch self {
        case .jump(let chain): .jump(names[chain] ?? chain)
        case .goto(let chain): .goto(names[chain] ?? chain)
        default: self
        }
    }
}

extension SetElement {
    public func retargeted(_ names: [ChainName: ChainName]) -> SetElement {
        guard let verdict, !names.isEmpty else { return self }
        return SetElement(key: key, verdict: verdict.retargeted(names))
    }
}

extension Chain {
    public func retargeted(_ names: [ChainName: ChainName]) -> Chain {
        guard !names.isEmpty else { return self }
        return Chain(name: name, kind: kind, comment: comment, rules: rules.map { $0.retargeted(names) }, owner: owner)
    }
}

extension NamedSet {
    public func retargeted(_ names: [ChainName: ChainName]) -> NamedSet {
        guard !names.isEmpty, isVerdictMap else { return self }
        var set = self
        set.elements = elements.map { $0.retargeted(names) }
        return set
    }
}
