import Svc2NftCore

/// The rule-graph object a netlink message was built from, so a kernel error can name
/// it and its Service.
public enum GraphObject: Hashable, Sendable, CustomStringConvertible {
    case batch
    case table(TableFamily, String)
    case chain(TableFamily, ChainName, Owner?)
    case set(TableFamily, SetName, Owner?)
    case elements(TableFamily, SetName)
    case rule(TableFamily, ChainName, index: Int, Owner?)

    public var description: String {
        func owned(_ owner: Owner?) -> String { owner.map { " (Service \($0))" } ?? "" }
        switch self {
        case .batch: return "the batch"
        case .table(let family, let name): return "table \(family.rawValue) \(name)"
        case .chain(let family, let name, let owner): return "chain \(name) in table \(family.rawValue)\(owned(owner))"
        case .set(let family, let name, let owner): return "set \(name) in table \(family.rawValue)\(owned(owner))"
        case .elements(let family, let name): return "elements of \(name) in table \(family.rawValue)"
        case .rule(let family, let chain, let index, let owner):
            return "rule \(index + 1) of chain \(chain) in table \(family.rawValue)\(owned(owner))"
        }
    }
}

/// Why `apply` or `delete` failed. The kernel commits each batch whole or not at all,
/// and a fresh install whose later stage is refused deletes what the earlier ones made,
/// so after a failure the previous ruleset is untouched (except `partlyInstalled`).
public indirect enum ApplyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kernel refused a message: the first error of the batch, with its object.
    case kernelRejected(object: GraphObject, errno: Int32)
    /// Not root, or no CAP_NET_ADMIN.
    case permissionDenied
    /// The netlink socket itself failed (open, send, receive).
    case socket(operation: String, errno: Int32)
    /// A fresh install failed after its first stage, and deleting the tables it had made
    /// failed too.
    case partlyInstalled(cause: ApplyError, undo: ApplyError)
    /// `KernelProbe` found features the ruleset needs that the kernel lacks.
    case missingKernelFeatures([MissingKernelFeature])

    public var description: String {
        switch self {
        case .partlyInstalled(let cause, let undo):
            return "\(cause.reason); removing the tables it had created then failed too (\(undo.reason)): "
                + "remove them with 'svc2nft delete'"
        default:
            return "\(reason); nothing was changed"
        }
    }

    /// What went wrong, without what it left behind.
    var reason: String {
        switch self {
        case .kernelRejected(let object, let errno): return "the kernel rejected \(object): \(Errno.text(errno))"
        case .permissionDenied: return "permission denied: changing nftables needs root or CAP_NET_ADMIN"
        case .socket(let operation, let errno): return "netlink \(operation) failed: \(Errno.text(errno))"
        case .partlyInstalled(let cause, _): return cause.reason
        case .missingKernelFeatures(let missing):
            return "this kernel cannot run svc2nft's rules: it lacks "
                + missing.map(\.description).joined(separator: "; and ")
        }
    }
}

/// errno numbers as text.
enum Errno {
    static func text(_ errno: Int32) -> String {
        String(cString: strerror(errno))
    }
}

#if canImport(Glibc)
    import Glibc
#endif

extension ApplyError {
    /// The kernel refused a batch (also when a fresh install's later stage was refused),
    /// as opposed to a socket or permission failure.
    public var isKernelRefusal: Bool {
        switch self {
        case .kernelRejected, .missingKernelFeatures: true
        case .partlyInstalled(let cause, _): cause.isKernelRefusal
        case .permissionDenied, .socket: false
        }
    }
}
