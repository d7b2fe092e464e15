/// Names chains after their content (`svc-shop/web/tcp/http_k3jd9x2a`) and per-Service
/// sets after their definition, as lowering builds them.
///
/// Why: `apply` must never rewrite the rules of a chain that packets may be traversing.
/// nf_tables runs a packet through one generation's rules but looks sets up in the
/// newest generation, so a packet crossing a commit can meet a rule whose anonymous
/// map is already gone and fall through without DNAT (measured: about 1 connection in
/// 70,000 during repeated in-place rewrites). With content-named chains a change is a
/// new chain, created before anything points at it; the switch only swaps map
/// elements, which the kernel swaps atomically for every lookup.
///
/// Lowering builds chains bottom-up (endpoint chains, then policy chains, then external
/// chains), and a chain's fingerprint covers the names it jumps to, so a change ripples
/// to every chain that leads to it. Base chains and the fixed chains with constant
/// content keep kube-proxy's names.
enum Versioning {
    static func chain(_ base: String, kind: ChainKind = .regular, comment: String?, rules: [Rule], owner: Owner?) -> Chain {
        let comment = comment.map(Comment.init)
        var print = Fingerprint()
        print.add(kind)
        print.add(comment?.text ?? "")
        print.add(rules.count)
        for rule in rules { print.add(rule) }
        return Chain(name: ChainName("\(base)_\(print.text)"), kind: kind, comment: comment, rules: rules, owner: owner)
    }

    /// A policy chain: `rules`, then a uniform pick among `verdicts` (see
    /// `Expr.randomPick`).
    static func policyChain(_ base: String, comment: String?, rules: [Rule], verdicts: [Verdict], owner: Owner?) -> Chain {
        let picks = verdicts.enumerated().map { index, verdict in
            let left = verdicts.count - index
            return Rule(left > 1 ? [.randomPick(modulus: left), .verdict(verdict)] : [.verdict(verdict)])
        }
        return chain(base, comment: comment, rules: rules + picks, owner: owner)
    }

    static func setName(_ base: String, keyType: [KeyType], isVerdictMap: Bool, timeoutSeconds: Int?) -> SetName {
        var print = Fingerprint()
        for type in keyType { print.add(type.rawValue) }
        print.add(isVerdictMap ? UInt8(1) : 0)
        print.add(timeoutSeconds ?? 0)
        return SetName("\(base)_\(print.text)")
    }
}
