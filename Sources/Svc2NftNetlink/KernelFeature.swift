import Svc2NftCore

/// One thing the kernel must be able to do for svc2nft's ruleset (an expression type, a
/// chain type, a kind of set), the module that provides it, and the small piece of
/// ruleset that asks the kernel for it: `KernelProbe` sends every feature's piece in one
/// batch that is never committed, so the kernel checks (and autoloads) each one and
/// changes nothing.
///
/// A node missing `nft_fib_ipv4` otherwise fails every sync with "the kernel rejected
/// rule 2 of chain filter-input: No such file or directory", which names neither the
/// feature nor the module.
public struct KernelFeature: Sendable, Hashable {
    /// What the ruleset uses, as an operator reads it: "fib", "masquerade", "nat chains".
    public let name: String
    /// The module that provides it (`modprobe` name).
    public let module: String
    /// The kernel configuration option that builds the module.
    public let config: String
    /// Chains the probe creates for this feature (one regular chain holding `rules`,
    /// or a base chain when the feature is a chain type).
    public let chains: [Chain]
    public let sets: [NamedSet]

    public init(name: String, module: String, config: String, chains: [Chain], sets: [NamedSet] = []) {
        self.name = name
        self.module = module
        self.config = config
        self.chains = chains
        self.sets = sets
    }

    /// A feature probed by one regular chain whose rules use it.
    static func rules(_ name: String, module: String, config: String, _ rules: [Rule], sets: [NamedSet] = []) -> KernelFeature {
        KernelFeature(name: name, module: module, config: config, chains: [Chain(name: chainName(name), rules: rules)], sets: sets)
    }

    /// `probe-` and the feature's name, as an nft identifier.
    static func chainName(_ feature: String) -> ChainName {
        ChainName("probe-" + String(feature.map { $0.isLetter || $0.isNumber ? $0 : "-" }))
    }

    /// The chain every probe rule that needs a jump target goes to.
    static let target = ChainName("probe-target")

    /// Every feature the ruleset of `family` may use: each `Expr` case, each kind of set
    /// and each chain type that lowering produces (`KernelFeature.covering` names the one
    /// that probes a given expression; a test checks every fixture's graph against it).
    public static func needed(for family: TableFamily) -> [KernelFeature] {
        let v4 = family == .ip
        let address = v4 ? IPAddress("10.0.0.1")! : IPAddress("fd00::1")!
        let prefixes = v4 ? [CIDR("10.0.0.0/8")!, CIDR("192.168.0.0/16")!] : [CIDR("fd00::/8")!, CIDR("fe80::/10")!]
        let addressKey = KeyType.address(family.ipFamily)
        let dispatch = SetName("probe-dispatch")
        let addresses = SetName("probe-addresses")
        let affinity = SetName("probe-affinity")
        return [
            KernelFeature(
                name: "nat chains", module: "nft_chain_nat", config: "CONFIG_NFT_NAT",
                chains: [
                    Chain(name: ChainName("probe-nat-prerouting"), kind: .base(.nat, .prerouting, priority: -100)),
                    Chain(name: ChainName("probe-nat-output"), kind: .base(.nat, .output, priority: -100)),
                    Chain(name: ChainName("probe-nat-postrouting"), kind: .base(.nat, .postrouting, priority: 100)),
                ]),
            KernelFeature(
                name: "filter chains", module: "nf_tables", config: "CONFIG_NF_TABLES",
                chains: [
                    Chain(name: ChainName("probe-filter-prerouting"), kind: .base(.filter, .prerouting, priority: -110)),
                    Chain(name: ChainName("probe-filter-input"), kind: .base(.filter, .input, priority: -110)),
                    Chain(name: ChainName("probe-filter-forward"), kind: .base(.filter, .forward, priority: -110)),
                    Chain(name: ChainName("probe-filter-output"), kind: .base(.filter, .output, priority: -110)),
                ]),
            .rules("conntrack", module: "nft_ct", config: "CONFIG_NFT_CT", [Rule([.ctStateNew, .verdict(.accept)])]),
            .rules(
                "fib", module: v4 ? "nft_fib_ipv4" : "nft_fib_ipv6", config: v4 ? "CONFIG_NFT_FIB_IPV4" : "CONFIG_NFT_FIB_IPV6",
                [Rule([.fibLocal(.destination), .verdict(.accept)]), Rule([.fibLocal(.source), .verdict(.accept)])]),
            .rules(
                "numgen", module: "nft_numgen", config: "CONFIG_NFT_NUMGEN", 
                [Rule([.randomPick(modulus: 2, share: 1), .verdict(.goto(target))]), Rule([.randomPick(modulus: 3, share: 2), .verdict(.goto(target))])]),
            .rules("dnat", module: "nft_nat", config: "CONFIG_NFT_NAT", [Rule([.l4Protocol(.tcp), .dnat(address, 80)])]),
            .rules("masquerade", module: "nft_masq", config: "CONFIG_NFT_MASQ", [Rule([.masqueradeFullyRandom])]),
            .rules(
                "reject", module: v4 ? "nft_reject_ipv4" : "nft_reject_ipv6",
                config: v4 ? "CONFIG_NFT_REJECT_IPV4" : "CONFIG_NFT_REJECT_IPV6", [Rule([.reject])]),
            .rules(
                "marks", module: "nf_tables", config: "CONFIG_NF_TABLES",
                [
                    Rule([.markBitClear(0x4000), .verdict(.return)]), Rule([.markSet(0x4000)]), Rule([.markToggle(0x4000)]),
                    Rule([.l4Protocol(.tcp), .destinationPort(.tcp, 80), .verdict(.jump(target))]),
                ]),
            .rules(
                "verdict maps", module: "nf_tables", config: "CONFIG_NF_TABLES",
                [Rule([.verdictMap(.addressProtocolPort, dispatch)]), Rule([.verdictMap(.protocolPort, SetName("probe-ports"))])],
                sets: [
                    NamedSet(
                        name: dispatch, keyType: [addressKey, .inetProtocol, .inetService], isVerdictMap: true,
                        elements: [SetElement(key: [.address(address), .proto(.tcp), .port(80)], verdict: .goto(target))]),
                    NamedSet(name: SetName("probe-ports"), keyType: [.inetProtocol, .inetService], isVerdictMap: true),
                ]),
            .rules(
                "address sets", module: "nf_tables", config: "CONFIG_NF_TABLES",
                [
                    Rule([.address(.destination, negated: false, .named(addresses)), .verdict(.accept)]),
                    Rule([.address(.source, negated: true, .prefixes(prefixes)), .verdict(.drop)]),
                    Rule([.address(.source, negated: false, .prefix(prefixes[0])), .verdict(.drop)]),
                    Rule([.address(.destination, negated: false, .address(address)), .verdict(.drop)]),
                ],
                sets: [NamedSet(name: addresses, keyType: [addressKey], isVerdictMap: false, elements: [SetElement(key: [.address(address)])])]),
            .rules(
                "dynamic sets with timeouts", module: "nf_tables", config: "CONFIG_NF_TABLES",
                [Rule([.rememberSource(affinity)])],
                sets: [NamedSet(name: affinity, keyType: [addressKey], isVerdictMap: false, timeoutSeconds: 10800)]),
        ]
    }

    /// The name of the feature `needed(for:)` probes `expr` with; an exhaustive switch, so
    /// a new kind of expression cannot be added without saying how it is probed.
    public static func covering(_ expr: Expr) -> String {
        switch expr {
        case .ctStateNew: "conntrack"
        case .fibLocal: "fib"
        case .randomPick: "numgen"
        case .dnat: "dnat"
        case .masqueradeFullyRandom: "masquerade"
        case .reject: "reject"
        case .markBitClear, .markSet, .markToggle, .destinationPort, .l4Protocol, .verdict: "marks"
        case .verdictMap: "verdict maps"
        case .address: "address sets"
        case .rememberSource: "dynamic sets with timeouts"
        }
    }
}

/// A feature the kernel refused during `KernelProbe`, for one table family.
public struct MissingKernelFeature: Sendable, Equatable, CustomStringConvertible {
    public let family: TableFamily
    public let name: String
    public let module: String
    public let config: String
    public let errno: Int32

    public var description: String {
        "\(name) for \(family.rawValue) (the kernel said: \(Errno.text(errno))); "
            + "load it with 'modprobe \(module)' or use a kernel built with \(config)"
    }
}
