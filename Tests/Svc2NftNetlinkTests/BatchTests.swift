import Foundation
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// One netlink message header read back from a batch.
struct Message: Equatable {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32

    static let batchBegin: UInt16 = 0x10
    static let batchEnd: UInt16 = 0x11
    static func nft(_ message: UInt16) -> UInt16 { 10 << 8 | message }  // NFNL_SUBSYS_NFTABLES
    static let newTable = nft(0), delTable = nft(2), newChain = nft(3), newRule = nft(6), newSet = nft(9), newSetElem = nft(12)

    static func parse(_ batch: FinalizedBatch) -> [Message] {
        let bytes = batch.pages.flatMap { $0 }
        var messages: [Message] = []
        var offset = 0
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
        func u16(_ at: Int) -> UInt16 { bytes[at..<at + 2].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) } }
        while offset + 16 <= bytes.count {
            let length = Int(u32(offset))
            messages.append(Message(type: u16(offset + 4), flags: u16(offset + 6), sequence: u32(offset + 8)))
            offset += (length + 3) & ~3
        }
        return messages
    }
}

/// The batch builder, driven through a recording transport: no root, no kernel.
@Suite struct BatchTests {
    static func graph(_ name: String) throws -> RuleGraph {
        let fixture = Fixture.named(name)
        var objects: [RawObject] = []
        for input in fixture.inputs {
            objects += try ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
        }
        let (cluster, _) = try ClusterLoader.load(objects, keepGoing: false)
        return Lowering.lower(cluster, node: NodeConfig(nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.244.0.0/16")!]))
    }

    @Test func replaceBatchIsOneTransactionInGraphOrder() throws {
        let transport = RecordingTransport()
        try Applier(transport: transport).apply(try Self.graph("shop"))
        let batch = try #require(transport.batches.first)
        let messages = Message.parse(batch)
        #expect(messages.first?.type == Message.batchBegin)
        #expect(messages.last?.type == Message.batchEnd)
        #expect(messages.count == batch.messageCount + 2)
        // Sequence numbers strictly increase, so each names one message.
        #expect(zip(messages, messages.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
        // Per table: add (create if missing), delete, create; then chains before rules.
        let types = messages.map(\.type)
        #expect(Array(types[1...3]) == [Message.newTable, Message.delTable, Message.newTable])
        let firstRule = try #require(types.firstIndex(of: Message.newRule))
        let lastChainOfFirstTable = try #require(types[..<firstRule].lastIndex(of: Message.newChain))
        #expect(lastChainOfFirstTable < firstRule)
        #expect(types.filter { $0 == Message.newTable }.count == 4, "two families, two NEWTABLE each")
    }

    @Test func kernelErrorNamesTheGraphObject() throws {
        let graph = try Self.graph("shop")
        let probe = RecordingTransport()
        try Applier(transport: probe).apply(graph)
        let batch = try #require(probe.batches.first)
        // Pick the content message that is a rule of a Service chain.
        let sequences = batch.contentSequences
        let index = try #require(sequences.firstIndex { sequence in
            if case .rule(_, let chain, _, let owner)? = batch.objects[sequence] {
                return chain.text.hasPrefix("svc-shop/web") && owner != nil
            }
            return false
        })
        let failing = RecordingTransport(failContentMessage: (index, 2 /* ENOENT */))
        #expect(throws: ApplyError.self) { try Applier(transport: failing).apply(graph) }
        do {
            try Applier(transport: failing).apply(graph)
        } catch {
            guard case .kernelRejected(let object, let errno) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(errno == 2)
            #expect(object == batch.objects[sequences[index]])
            #expect(error.description.contains("svc-shop/web/tcp/http"))
            #expect(error.description.contains("Service shop/web:http"))
        }
    }

    @Test func permissionDeniedIsItsOwnError() throws {
        let failing = RecordingTransport(failContentMessage: (0, 1 /* EPERM */))
        #expect(throws: ApplyError.permissionDenied) { try Applier(transport: failing).apply(try Self.graph("clusterip-basic")) }
    }

    /// Thousands of elements: the batch spans many pages and element messages stay small.
    @Test func largeGraphsSpanPages() {
        var services: [Service] = []
        var slices: [ServiceID: [EndpointSlice]] = [:]
        for i in 0..<3000 {
            let id = ServiceID(namespace: "ns", name: "svc-\(i)")
            let location = Location(file: "gen", path: "", object: id.description)
            services.append(Service(
                id: id, type: .clusterIP, clusterIPs: [IPAddress(v4: 0x0A60_0000 + UInt32(i))], isHeadless: false,
                ports: [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .number(8080), nodePort: 0)],
                externalIPs: [], loadBalancerIngress: [], loadBalancerSourceRanges: [], externalTrafficPolicy: .cluster,
                internalTrafficPolicy: .cluster, sessionAffinity: .none, healthCheckNodePort: 0, externalName: nil, source: location))
            let endpoints = (0..<3).map { Endpoint(address: IPAddress(v4: 0x0AF4_0000 + UInt32(i * 4 + $0)), ready: true, serving: true, terminating: false, nodeName: nil, zoneHints: []) }
            slices[id] = [EndpointSlice(name: "s-\(i)", service: id, family: .v4, ports: [EndpointPort(name: "http", protocol: .tcp, port: 8080)], endpoints: endpoints, source: location)]
        }
        let graph = Lowering.lower(Cluster(services: services, slices: slices), node: NodeConfig())
        let batch = GraphEncoder.replaceBatch(graph)
        #expect(batch.pages.count > 4, "expected a multi-page batch, got \(batch.pages.count) pages of \(batch.byteCount) bytes")
        let messages = Message.parse(batch)
        #expect(messages.count == batch.messageCount + 2)
        #expect(Set(messages.map(\.sequence)).count == messages.count)
        let elementMessages = messages.filter { $0.type == Message.newSetElem }.count
        #expect(elementMessages > 2, "service-ips with 3000 elements must be split into several messages")
    }

    @Test func deleteBatchAddsThenDeletesBothFamilies() {
        let messages = Message.parse(GraphEncoder.deleteBatch(tableName: "svc2nft"))
        #expect(messages.map(\.type) == [Message.batchBegin, Message.newTable, Message.delTable, Message.newTable, Message.delTable, Message.batchEnd])
    }
}
