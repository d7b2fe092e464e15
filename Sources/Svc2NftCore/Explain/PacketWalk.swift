/// The first packet of a connection, as `explain` follows it.
public struct Packet: Sendable, Hashable {
    public var source: IPAddress
    public var destination: IPAddress
    public var destinationPort: UInt16
    public var proto: L4Protocol
    public var mark: UInt32 = 0

    public init(source: IPAddress, destination: IPAddress, destinationPort: UInt16, proto: L4Protocol) {
        self.source = source
        self.destination = destination
        self.destinationPort = destinationPort
        self.proto = proto
    }
}

/// One rule that matched on the way, with the chain it is in and whose it is.
public struct Step: Sendable, Hashable {
    public let hook: String
    public let chain: ChainName
    public let rule: Rule
    public let owner: Owner?
}

/// Where a packet ends, with how likely that is (numgen picks split the probability).
public struct Outcome: Sendable, Hashable {
    /// Where the connection goes.
    public enum Verdict: Sendable, Hashable {
        /// DNAT to an endpoint.
        case endpoint(IPAddress, UInt16)
        case reject
        case drop
        /// No rule changed or stopped it: it goes where it was sent.
        case notService
    }

    public let verdict: Verdict
    public let probability: Double
    public let masqueraded: Bool
    public let path: [Step]
}

/// Walks a packet through a rule graph the way the kernel does: the hooks of its
/// path in priority order (prerouting or output, then input or forward after
/// routing, then postrouting), each base chain's rules in order, jumps and gotos,
/// map lookups. At `numgen` it follows every element, each with probability 1/N.
/// Dynamic (affinity) sets are taken as empty: this is a client's first connection.
/// Pure: the same graph and packet give the same answer.
public struct PacketWalk {
    let table: Table
    let nodeIPs: Set<IPAddress>
    let chains: [ChainName: Chain]
    let sets: [SetName: NamedSet]

    public init(graph: RuleGraph, family: IPFamily, nodeIPs: [IPAddress]) {
        table = graph.tables.first { $0.family.ipFamily == family }!
        self.nodeIPs = Set(nodeIPs.filter { $0.family == family })
        chains = Dictionary(table.chains.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        sets = Dictionary(table.sets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// A node address, a loopback address, or (without `--node-ip`) nothing known.
    func isLocal(_ address: IPAddress) -> Bool { address.isLoopback || nodeIPs.contains(address) }

    struct State {
        var packet: Packet
        var probability: Double
        var path: [Step]
    }

    enum Stop {
        case reject, drop
    }

    /// Every way the packet can go.
    public func outcomes(of packet: Packet) -> [Outcome] {
        var finished: [Outcome] = []
        let fromNode = isLocal(packet.source)
        let first: [Hook] = fromNode ? [.output] : [.prerouting]
        for state in run(hooks: first, on: [State(packet: packet, probability: 1, path: [])], stopped: &finished) {
            // The routing decision is made after DNAT.
            let local = isLocal(state.packet.destination)
            let rest: [Hook] =
                fromNode ? (local ? [.postrouting, .input] : [.postrouting]) : (local ? [.input] : [.forward, .postrouting])
            for done in run(hooks: rest, on: [state], stopped: &finished) {
                let dnat = done.packet.destination != packet.destination || done.packet.destinationPort != packet.destinationPort
                finished.append(
                    Outcome(
                        verdict: dnat ? .endpoint(done.packet.destination, done.packet.destinationPort) : .notService,
                        probability: done.probability,
                        masqueraded: done.path.contains { $0.rule.exprs.contains(.masqueradeFullyRandom) },
                        path: done.path))
            }
        }
        return finished
    }

    /// Runs the base chains of `hooks`, by priority, over every state.
    func run(hooks: [Hook], on states: [State], stopped: inout [Outcome]) -> [State] {
        var current = states
        for hook in hooks {
            let bases = table.chains.compactMap { chain -> (Chain, Int)? in
                if case .base(_, let h, let priority) = chain.kind, h == hook { return (chain, priority) }
                return nil
            }.sorted { $0.1 < $1.1 }
            for (base, _) in bases {
                var next: [State] = []
                for state in current {
                    for (result, stop) in walk(base, hook: hook.rawValue, state: state) {
                        if let stop {
                            stopped.append(
                                Outcome(
                                    verdict: stop == .reject ? .reject : .drop, probability: result.probability, masqueraded: false,
                                    path: result.path))
                        } else {
                            next.append(result)
                        }
                    }
                }
                current = next
            }
        }
        return current
    }

    /// Evaluates a chain and everything it jumps to; returns each resulting state, with
    /// a stop when the packet was rejected or dropped.
    func walk(_ start: Chain, hook: String, state initial: State) -> [(State, Stop?)] {
        var results: [(State, Stop?)] = []
        // Frames: chain, next rule index. A goto replaces the top frame.
        func run(_ stack: [(Chain, Int)], _ state: State, depth: Int) {
            guard depth < 64, let (chain, first) = stack.last else {
                results.append((state, nil))  // base chain policy: accept
                return
            }
            var index = first
            var stack = stack
            var state = state
            while index < chain.rules.count {
                let rule = chain.rules[index]
                index += 1
                var matched = true
                var miss: ([(Chain, Int)], State)? = nil
                defer { if let (rest, missed) = miss { run(rest, missed, depth: depth) } }
                var verdict: Verdict? = nil
                var stop: Stop? = nil
                for expr in rule.exprs where matched {
                    switch expr {
                    case .ctStateNew: break
                    case .address(let field, let negated, let operand):
                        let address = field == .source ? state.packet.source : state.packet.destination
                        matched = contains(operand, address) != negated
                    case .destinationPort(let proto, let port):
                        matched = state.packet.proto == proto && state.packet.destinationPort == port
                    case .l4Protocol(let proto): matched = state.packet.proto == proto
                    case .fibLocal(let field): matched = isLocal(field == .source ? state.packet.source : state.packet.destination)
                    case .markBitClear(let bit): matched = state.packet.mark & bit == 0
                    case .markSet(let bit): state.packet.mark |= bit
                    case .markToggle(let bit): state.packet.mark ^= bit
                    case .verdictMap(let key, let map):
                        if let found = lookup(map, key: key, packet: state.packet) { verdict = found } else { matched = false }
                    case .randomPick(let modulus, let share):
                        // Misses (N-K in N): on to the next rule, in a branch of its own.
                        // Walked after this rule, so outcomes come in rule order.
                        if modulus > share {
                            var rest = stack
                            rest[rest.count - 1].1 = index
                            miss = (rest, state)
                            miss!.1.probability *= Double(modulus - share) / Double(modulus)
                        }
                        state.probability *= Double(share) / Double(modulus)
                    case .rememberSource: break
                    case .dnat(let address, let port):
                        state.packet.destination = address
                        state.packet.destinationPort = port
                    case .masqueradeFullyRandom: break
                    case .reject: stop = .reject
                    case .verdict(let v): verdict = v
                    }
                }
                guard matched else { continue }
                let step = Step(hook: hook, chain: chain.name, rule: rule, owner: chain.owner)
                state.path.append(step)
                if let stop {
                    results.append((state, stop))
                    return
                }
                if let verdict {
                    stack[stack.count - 1].1 = index
                    follow(verdict, stack: stack, chain: chain, state: state, depth: depth)
                    return
                }
            }
            // End of chain: return to the caller, or the base chain's policy.
            stack.removeLast()
            if stack.isEmpty {
                results.append((state, nil))
            } else {
                run(stack, state, depth: depth + 1)
            }
        }

        func follow(_ verdict: Verdict?, stack: [(Chain, Int)], chain: Chain, state: State, depth: Int) {
            var stack = stack
            switch verdict {
            case .accept?, nil:
                results.append((state, nil))
            case .drop?:
                results.append((state, .drop))
            case .return?:
                stack.removeLast()
                if stack.isEmpty { results.append((state, nil)) } else { run(stack, state, depth: depth + 1) }
            case .jump(let target)?:
                guard let next = chains[target] else { return }
                run(stack + [(next, 0)], state, depth: depth + 1)
            case .goto(let target)?:
                guard let next = chains[target] else { return }
                stack[stack.count - 1] = (next, 0)
                run(stack, state, depth: depth + 1)
            }
        }

        run([(start, 0)], initial, depth: 0)
        return results
    }

    func contains(_ operand: AddressOperand, _ address: IPAddress) -> Bool {
        switch operand {
        case .address(let ip): return ip == address
        case .prefix(let cidr): return cidr.contains(address)
        case .prefixes(let cidrs): return cidrs.contains { $0.contains(address) }
        case .named(let name):
            guard let set = sets[name], set.timeoutSeconds == nil else { return false }  // affinity: empty
            return set.elements.contains { $0.key == [.address(address)] }
        }
    }

    func lookup(_ map: SetName, key: MapKey, packet: Packet) -> Verdict? {
        guard let set = sets[map] else { return nil }
        let wanted: [KeyValue] =
            key == .addressProtocolPort
            ? [.address(packet.destination), .proto(packet.proto), .port(packet.destinationPort)]
            : [.proto(packet.proto), .port(packet.destinationPort)]
        return set.elements.first { $0.key == wanted }?.verdict
    }
}
