/// nft chain types used by the ruleset.
public enum ChainType: String, Hashable, Sendable {
    case filter, nat
}

/// Netfilter hooks used by the ruleset.
public enum Hook: String, Hashable, Sendable {
    case prerouting, input, forward, output, postrouting
}

/// Whether a chain is attached to a hook.
public enum ChainKind: Hashable, Sendable {
    case regular
    case base(ChainType, Hook, priority: Int)
}

/// The Service port a chain or set was made for, so errors and `explain` can name it.
public struct Owner: Hashable, Sendable, CustomStringConvertible {
    public let service: ServiceID
    public let port: String

    public init(service: ServiceID, port: String) {
        self.service = service
        self.port = port
    }

    public var description: String { "\(service):\(port)" }
}

/// A chain with its rules in order. The comment depends only on the chain's identity:
/// `apply` keeps existing chains (the kernel cannot change a chain's comment), so
/// anything that varies (endpoint conditions, policies) belongs in rule comments.
public struct Chain: Hashable, Sendable {
    public let name: ChainName
    public let kind: ChainKind
    public var comment: Comment?
    public var rules: [Rule]
    public let owner: Owner?

    public init(name: ChainName, kind: ChainKind = .regular, comment: String? = nil, rules: [Rule] = [], owner: Owner? = nil) {
        self.init(name: name, kind: kind, comment: comment.map(Comment.init), rules: rules, owner: owner)
    }

    public init(name: ChainName, kind: ChainKind, comment: Comment?, rules: [Rule], owner: Owner?) {
        self.name = name
        self.kind = kind
        self.comment = comment
        self.rules = rules
        self.owner = owner
    }
}
