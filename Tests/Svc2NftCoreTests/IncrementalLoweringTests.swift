import Foundation
import Svc2NftCommandLine
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// `apply --follow` lowers only what changed and sends differences. Here the tables it
/// remembers must be exactly a full lowering of the same objects, whole and in parts,
/// after adding objects one by one in random order, after deleting some, and after
/// modifying some. (`IncrementalOnFakeTests` sends the differences themselves to
/// `NftFake` and compares with a fresh install.)
@Suite struct IncrementalLoweringTests {
    static let fixtures = Fixture.all.filter { $0.exists("expected.nft") && !$0.arguments.contains("--keep-going") }.map(\.name)

    @Test(arguments: fixtures)
    func changesReplayToTheFullTable(_ name: String) throws {
        let fixture = Fixture.named(name)
        let node = try #require(Self.nodeConfig(fixture.arguments), "unknown option in \(name)/args")
        var objects: [RawObject] = []
        for input in fixture.inputs {
            let bytes = [UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input)))
            objects += try ManifestReader.parse(bytes, file: input)
        }
        var generator = SeededGenerator(seed: 7)
        var store = ClusterStore()
        var incremental = IncrementalLowering(node: node)

        func step(_ event: ObjectEvent) throws {
            _ = incremental.update(try store.apply(event), from: store)
            let full = Lowering.lower(store.cluster, node: node)
            #expect(incremental.graph().tables == full.tables, "\(name): after \(event.change) of \(event.object.path)")
        }

        for object in objects.shuffled(using: &generator) { try step(ObjectEvent(change: .upsert, object: object)) }
        let full = Lowering.lower(store.cluster, node: node)
        #expect(NftText.render(incremental.graph()) == NftText.render(RuleGraph(tables: full.tables, notes: [])))
        var parts: [GraphPart] = []
        let counts = incremental.parts { parts.append($0) }
        #expect(GraphPartTests.assembled(parts) == full.tables, "\(name): the remembered lowering in parts must make the graph")
        #expect(counts.chains == full.chainCount && counts.rules == full.ruleCount)

        // Delete a third, then put them back, then delete everything.
        let some = objects.shuffled(using: &generator).prefix(max(1, objects.count / 3))
        for object in some { try step(ObjectEvent(change: .delete, object: object)) }
        for object in some { try step(ObjectEvent(change: .upsert, object: object)) }
        for object in objects.shuffled(using: &generator) { try step(ObjectEvent(change: .delete, object: object)) }
        #expect(incremental.graph().tables.allSatisfy { $0.chains.allSatisfy { $0.owner == nil } }, "\(name): per-Service chains left")
    }

    /// A Service's endpoints change: only that Service's chains move, and the dispatch
    /// map swaps one element.
    @Test func oneChangedEndpointIsASmallChange() throws {
        let node = NodeConfig(nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.244.0.0/16")!])
        var store = ClusterStore()
        var incremental = IncrementalLowering(node: node)
        var stream = DocumentStream(file: "<stdin>")
        stream.append(Array(Self.service(name: "web", ip: "10.96.0.10").utf8))
        stream.append(Array(Self.slice(service: "web", endpoint: "10.244.1.5").utf8))
        stream.append(Array(Self.service(name: "api", ip: "10.96.0.20").utf8))
        var touched: Set<ServiceID> = []
        while let events = try stream.next() { for event in events { touched.formUnion(try store.apply(event)) } }
        _ = incremental.update(touched, from: store)

        stream.append(Array("{\"type\": \"MODIFIED\", \"object\": \(Self.slice(service: "web", endpoint: "10.244.1.6"))}".utf8))
        let events = try #require(try stream.next())
        #expect(events.count == 1 && events[0].change == .upsert)
        let changes = incremental.update(try store.apply(events[0]), from: store)
        let v4 = try #require(changes.first { $0.family == .ip })
        #expect(changes.count == 1, "the ip6 table does not change")
        #expect(v4.addedChains.map(\.name.text).allSatisfy { $0.contains("default/web/") })
        #expect(v4.addedChains.contains { $0.name.text.hasPrefix("ep-default/web/tcp/http__10.244.1.6/8080_") })
        #expect(v4.removedChains.contains { $0.name.text.hasPrefix("ep-default/web/tcp/http__10.244.1.5/8080_") })
        // The policy chain is rewritten and renamed in place; the dispatch element follows it.
        #expect(v4.renamedChains.map(\.new.name.unversioned) == ["svc-default/web/tcp/http"])
        #expect(v4.elements.isEmpty, "\(v4.elements)")
    }

    /// An invalid version of an object is refused and changes nothing: the previous
    /// version stays in the store.
    @Test func invalidObjectKeepsThePreviousVersion() throws {
        var store = ClusterStore()
        var stream = DocumentStream(file: "<stdin>")
        stream.append(Array(Self.service(name: "web", ip: "10.96.0.10").utf8))
        stream.append(Array(Self.service(name: "web", ip: "10.96.0.300").utf8))
        let good = try #require(try stream.next())
        _ = try store.apply(good[0])
        let bad = try #require(try stream.next())
        let error = #expect(throws: ModelError.self) { try store.apply(bad[0]) }
        #expect(error.map { "\($0)" }?.contains("<stdin>: doc[1].spec.clusterIP: default/web:") == true, "\(String(describing: error))")
        #expect(store.services[ServiceID(namespace: "default", name: "web")]?.clusterIPs == [IPAddress("10.96.0.10")!])
    }

    @Test func streamSplitsDocumentsAcrossReads() throws {
        var stream = DocumentStream(file: "<stdin>")
        let text = Self.service(name: "web", ip: "10.96.0.10") + "\n" + Self.service(name: "a\\\"}", ip: "10.96.0.11")
        var events: [ObjectEvent] = []
        var errors = 0
        for byte in text.utf8 {
            stream.append([byte])
            do {
                while let more = try stream.next() { events += more }
            } catch {
                errors += 1
            }
        }
        #expect(events.count == 2 && errors == 0 && !stream.hasPartialDocument)
        stream.append(Array("42 {\"kind\": \"Service\"".utf8))
        #expect(throws: InputError.self) { _ = try stream.next() }
        #expect(try stream.next() == nil && stream.hasPartialDocument)
    }

    static func service(name: String, ip: String) -> String {
        """
        {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "\(name)"},
         "spec": {"clusterIP": "\(ip)", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
        """
    }

    static func slice(service: String, endpoint: String) -> String {
        """
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"namespace": "default", "name": "\(service)-1", "labels": {"kubernetes.io/service-name": "\(service)"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
         "endpoints": [{"addresses": ["\(endpoint)"], "nodeName": "node-a"}]}
        """
    }

    /// A fixture's node, read from its `args` as the `svc2nft` commands read them.
    static func nodeConfig(_ arguments: [String]) -> NodeConfig? {
        try? NodeOptions.parse(arguments).nodeConfig()
    }
}
