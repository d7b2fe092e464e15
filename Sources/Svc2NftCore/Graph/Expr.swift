/// Which address of the packet a match reads.
public enum AddressField: String, Hashable, Sendable {
    case source = "saddr"
    case destination = "daddr"
}

/// What an address is compared with.
public enum AddressOperand: Hashable, Sendable {
    case address(IPAddress)
    case prefix(CIDR)
    /// An anonymous interval set, `{ 10.0.0.0/8, 192.168.0.0/16 }`, sorted.
    case prefixes([CIDR])
    case named(SetName)
}

/// The key of a verdict-map lookup.
public enum MapKey: Hashable, Sendable {
    /// `ip daddr . meta l4proto . th dport`
    case addressProtocolPort
    /// `meta l4proto . th dport`
    case protocolPort
}

/// One step of a rule, in the order the kernel evaluates them. A closed set: exactly the
/// expressions kube-proxy's ruleset needs, each rendered by both backends.
public enum Expr: Hashable, Sendable {
    /// `ct state new`
    case ctStateNew
    /// `ip saddr 10.1.2.3`, `ip daddr != 127.0.0.0/8`, `ip daddr @nodeport-ips`
    case address(AddressField, negated: Bool, AddressOperand)
    /// `tcp dport 80`
    case destinationPort(L4Protocol, UInt16)
    /// `meta l4proto tcp`
    case l4Protocol(L4Protocol)
    /// `fib saddr type local`: the address is one of this node's.
    case fibLocal(AddressField)
    /// `meta mark & 0x4000 == 0`
    case markBitClear(UInt32)
    /// `meta mark set meta mark | 0x4000`
    case markSet(UInt32)
    /// `meta mark set meta mark ^ 0x4000`
    case markToggle(UInt32)
    /// `... vmap @name`
    case verdictMap(MapKey, SetName)
    /// `numgen random mod N 0` (`share` 1) or `numgen random mod N < K`: matches `share`
    /// new connections in `modulus`. A policy chain picks one of N endpoints with a
    /// cascade of these (`mod N`, `mod N-1`, ... `mod 2`, then a plain goto), so each
    /// endpoint gets exactly 1/N; past `Versioning.pickFanOut` endpoints, the cascade
    /// picks among groups of endpoints, each with its share (see
    /// `Versioning.policyChain`). Not a verdict map per chain: the kernel finds a set by
    /// walking the table's list of sets, which made loading 10,000 Services quadratic
    /// (see the README's performance section).
    case randomPick(modulus: Int, share: Int)
    /// `update @set { ip saddr }`: remember the client for session affinity.
    case rememberSource(SetName)
    /// `dnat to 10.1.2.3:8080`, preceded in the rule by `.l4Protocol`.
    case dnat(IPAddress, UInt16)
    /// `masquerade fully-random`
    case masqueradeFullyRandom
    /// `reject`: ICMP port unreachable, which a TCP client sees as connection refused.
    case reject
    case verdict(Verdict)
}

/// A rule: expressions, and an optional comment drawn from validated identity only.
public struct Rule: Hashable, Sendable {
    public var exprs: [Expr]
    public var comment: Comment?

    public init(_ exprs: [Expr], comment: String? = nil) {
        self.exprs = exprs
        self.comment = comment.map(Comment.init)
    }
}

/// The chains an expression jumps or goes to.
public enum ChainTargets {
    public static func of(_ expr: Expr) -> [ChainName] {
        switch expr {
        case .verdict(.jump(let c)), .verdict(.goto(let c)): [c]
        default: []
        }
    }
}
