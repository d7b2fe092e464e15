import ArgumentParser
import Foundation
import Svc2NftCommandLine
import Svc2NftCore

/// `svc2nft explain`: where does this packet go, and why?
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow one new connection through the ruleset: path, verdict, endpoints and why.")

    @Option(help: "Client address.") var from: String
    @Option(help: "Destination, IP:PORT ([IPv6]:PORT).") var to: String
    @Option(name: .customLong("protocol"), help: "tcp, udp or sctp.") var proto: String = "tcp"
    @Option(
        name: .customLong("local"),
        help: "An address this node has, for `fib ... type local` (repeatable; default: the --node-ip addresses).")
    var local: [String] = []
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var options: NodeOptions

    func run() throws {
        guard let source = IPAddress(from) else { throw usage("--from: \"\(from)\" is not an IP address") }
        guard let (destination, port) = Self.parseEndpoint(to) else { throw usage("--to: \"\(to)\" is not IP:PORT") }
        guard source.family == destination.family else { throw usage("--from and --to are of different IP families") }
        guard let l4 = L4Protocol(rawValue: proto.lowercased()) else { throw usage("--protocol: \"\(proto)\" is not tcp, udp or sctp") }
        var locals: [IPAddress] = []
        for text in local {
            guard let address = IPAddress(text) else { throw usage("--local: \"\(text)\" is not an IP address") }
            locals.append(address)
        }
        let (graph, node, cluster) = Pipeline.model(options)
        let packet = Packet(source: source, destination: destination, destinationPort: port, proto: l4)
        let explanation = Explanation.explain(packet, graph: graph, cluster: cluster, node: node, localAddresses: locals)
        let text = json ? ExplainOutput.json(explanation) : ExplainOutput.text(explanation)
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    func usage(_ message: String) -> Error {
        Pipeline.printError("error: \(message)")
        return Failure.badInput
    }

    static func parseEndpoint(_ text: String) -> (IPAddress, UInt16)? {
        var host = Substring(text)
        guard let colon = host.lastIndex(of: ":") else { return nil }
        let portText = host[host.index(after: colon)...]
        host = host[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let address = IPAddress(String(host)), let port = UInt16(portText), port > 0 else { return nil }
        return (address, port)
    }
}

/// Text and JSON renderings of an `Explanation`.
enum ExplainOutput {
    static func endpoint(_ ip: IPAddress, _ port: UInt16) -> String { ip.family == .v4 ? "\(ip):\(port)" : "[\(ip)]:\(port)" }

    static func verdictText(_ verdict: Outcome.Verdict) -> String {
        switch verdict {
        case .endpoint(let ip, let port): endpoint(ip, port)
        case .reject: "REJECT"
        case .drop: "DROP"
        case .notService: "not Service traffic"
        }
    }

    static func text(_ e: Explanation) -> String {
        let p = e.packet
        var out =
            "packet: \(p.proto.rawValue) \(p.source) -> \(endpoint(p.destination, p.destinationPort)) (first packet of a connection)\n"
        let family = TableFamily(p.destination.family)
        func line(_ step: Step, indent: String) -> String {
            let owner = step.owner.map { "  [\($0)]" } ?? ""
            return "\(indent)\(step.hook) \(step.chain): \(NftText.text(step.rule, family: family))\(owner)\n"
        }
        out += "path:\n"
        let first = e.outcomes.first?.path ?? []
        for step in first { out += line(step, indent: "  ") }
        for outcome in e.outcomes.dropFirst() {
            // Only where this outcome leaves the first one's path.
            let shared = zip(first, outcome.path).prefix { $0 == $1 }.count
            out += "  or, with probability \(String(format: "%.1f%%", outcome.probability * 100)):\n"
            for step in outcome.path[shared...] { out += line(step, indent: "    ") }
        }
        out += "verdict:\n"
        for item in e.summary {
            let percent = String(format: "%.1f%%", item.probability * 100)
            out += "  \(verdictText(item.verdict))  \(percent)\(item.masqueraded ? "  masqueraded" : "")\n"
        }
        let masq = e.summary.contains { $0.masqueraded }
        out += "masquerade: \(masq ? "yes, the endpoint sees the node's address" : "no, the endpoint sees the client's address")\n"
        if !e.reasons.isEmpty {
            out += "why:\n" + e.reasons.map { "  \($0)\n" }.joined()
        }
        return out
    }

    /// `explain --json`: encoded by `JSONEncoder`, so any text in it (a Service's name,
    /// `--node-zone`, a rule's comment) stays valid JSON.
    static func json(_ e: Explanation) -> String {
        let family = TableFamily(e.packet.destination.family)
        let p = e.packet
        let document = JSONExplanation(
            packet: .init(protocol: p.proto.rawValue, from: p.source.description, to: endpoint(p.destination, p.destinationPort)),
            outcomes: e.summary.map { item in
                var kind = "endpoint"
                var target: String? = nil
                switch item.verdict {
                case .endpoint(let ip, let port): target = endpoint(ip, port)
                case .reject: kind = "REJECT"
                case .drop: kind = "DROP"
                case .notService: kind = "not-service"
                }
                return .init(verdict: kind, endpoint: target, probability: item.probability, masqueraded: item.masqueraded)
            },
            paths: e.outcomes.map { outcome in
                outcome.path.map { step in
                    .init(
                        hook: step.hook, chain: step.chain.text, rule: NftText.text(step.rule, family: family),
                        service: step.owner?.description)
                }
            },
            reasons: e.reasons)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and booleans cannot fail.
        let data = try! encoder.encode(document)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The shape of `explain --json`; optional fields are written as `null`.
private struct JSONExplanation: Encodable {
    struct Packet: Encodable {
        let `protocol`: String
        let from: String
        let to: String
    }

    struct Outcome: Encodable {
        let verdict: String
        let endpoint: String?
        let probability: Double
        let masqueraded: Bool

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(verdict, forKey: .verdict)
            try container.encode(endpoint, forKey: .endpoint)
            try container.encode(probability, forKey: .probability)
            try container.encode(masqueraded, forKey: .masqueraded)
        }

        enum CodingKeys: String, CodingKey { case verdict, endpoint, probability, masqueraded }
    }

    struct Step: Encodable {
        let hook: String
        let chain: String
        let rule: String
        let service: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(hook, forKey: .hook)
            try container.encode(chain, forKey: .chain)
            try container.encode(rule, forKey: .rule)
            try container.encode(service, forKey: .service)
        }

        enum CodingKeys: String, CodingKey { case hook, chain, rule, service }
    }

    let packet: Packet
    let outcomes: [Outcome]
    let paths: [[Step]]
    let reasons: [String]
}
