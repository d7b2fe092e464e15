import Foundation
import Svc2NftTestSupport
import Testing

/// `explain` must give every flow of every flows.json the answer the kernel gives in the
/// test bed: the same endpoints, REJECT, DROP or not-service, and the same masquerade.
/// Runs without root: it reads only the rule graph.
@Suite struct ExplainTests {
    struct Flow: Decodable {
        let name: String
        let sourceIP: String
        let destIP: String
        let destPort: Int
        let `protocol`: String
        let output: String
        let masq: Bool?
        let destOnNode: Bool?
    }

    struct Answer: Decodable {
        struct Outcome: Decodable {
            let verdict: String
            let endpoint: String?
            let masqueraded: Bool
        }
        let outcomes: [Outcome]
    }

    /// The addresses the test bed gives the node: the fixture's, plus defaults.
    static func localAddresses(_ fixture: Fixture, flows: [Flow]) -> [String] {
        var addresses = ["10.0.0.1", "fd00:10::1"]
        let args = fixture.arguments
        for (index, argument) in args.enumerated() where argument == "--node-ip" && index + 1 < args.count {
            addresses.append(args[index + 1])
        }
        addresses += flows.filter { $0.destOnNode == true }.map(\.destIP)
        return addresses
    }

    @Test(arguments: Fixture.all.filter { $0.exists("flows.json") })
    func explainAgreesWithEveryFlow(_ fixture: Fixture) throws {
        let flows = try JSONDecoder().decode([Flow].self, from: Data(contentsOf: URL(fileURLWithPath: fixture.path("flows.json"))))
        let locals = Self.localAddresses(fixture, flows: flows).flatMap { ["--local", $0] }
        for flow in flows {
            let to = flow.destIP.contains(":") ? "[\(flow.destIP)]:\(flow.destPort)" : "\(flow.destIP):\(flow.destPort)"
            let result = try Svc2NftBinary.run(
                ["explain", "--json", "--from", flow.sourceIP, "--to", to, "--protocol", flow.protocol] + locals
                    + fixture.arguments + fixture.inputs,
                in: fixture.directory)
            try #require(result.status == 0, "\(fixture.name): \(flow.name): \(result.stderr)")
            let answer = try JSONDecoder().decode(Answer.self, from: Data(result.stdout.utf8))
            let verdicts = Set(answer.outcomes.map(\.verdict))
            let expected = flow.output.trimmingCharacters(in: .whitespaces)
            switch expected {
            case "REJECT", "DROP":
                #expect(verdicts == [expected], "\(fixture.name): \(flow.name): expected \(expected), explain says \(answer.outcomes)")
            case "":
                #expect(verdicts == ["not-service"], "\(fixture.name): \(flow.name): expected not-service, explain says \(answer.outcomes)")
            default:
                let want = Set(expected.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                let got = Set(answer.outcomes.compactMap(\.endpoint))
                #expect(
                    verdicts == ["endpoint"] && got == want,
                    "\(fixture.name): \(flow.name): expected \(want.sorted()), explain says \(answer.outcomes)")
                if let masq = flow.masq {
                    #expect(
                        answer.outcomes.allSatisfy { $0.masqueraded == masq }, "\(fixture.name): \(flow.name): masquerade should be \(masq)"
                    )
                }
            }
        }
    }
}

/// `--service-cidr`: explain names the drop of an unallocated ClusterIP in Service terms.
@Suite struct UnallocatedClusterIPExplainTests {
    @Test func explainSaysWhyAnUnallocatedAddressIsDropped() throws {
        let fixture = Fixture.named("service-cidr")
        let result = try Svc2NftBinary.run(
            ["explain", "--from", "10.244.2.50", "--to", "10.96.7.7:80"] + fixture.arguments + fixture.inputs, in: fixture.directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("DROP  100.0%"), "\(result.stdout)")
        #expect(result.stdout.contains("inside Service CIDR 10.96.0.0/16 but no Service holds it"), "\(result.stdout)")
        let outside = try Svc2NftBinary.run(
            ["explain", "--from", "10.244.2.50", "--to", "10.97.0.5:80"] + fixture.arguments + fixture.inputs, in: fixture.directory)
        #expect(!outside.stdout.contains("DROP"), "\(outside.stdout)")
    }
}
