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
    static let newTable = nft(0), delTable = nft(2), newChain = nft(3), delChain = nft(5), newRule = nft(6), delRule = nft(8)
    static let newSet = nft(9), delSet = nft(11), newSetElem = nft(12), delSetElem = nft(14)

    static func parse(_ batch: FinalizedBatch) -> [Message] {
        let bytes = batch.bytes
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

/// The batch format and what each transaction of a fresh install holds, on `NftFake`
/// (no root, no kernel); what the batches do is `FakeKernelTests`' job.
@Suite struct BatchTests {
    static let node = NodeConfig(nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.244.0.0/16")!])

    static func lowered(_ name: String) throws -> (RuleGraph, Cluster) {
        let cluster = try FakeKernelTests.cluster(name)
        return (Lowering.lower(cluster, node: node), cluster)
    }

    static func graph(_ name: String) throws -> RuleGraph { try lowered(name).0 }

    /// No table yet: a `FreshInstall`, a transaction per `GraphPart`. First the tables,
    /// the fixed chains (base chains without rules) and the sets without elements; then
    /// runs of Service chains with their rules; last the dispatch maps' elements and the
    /// base chains' rules. Chains are created in graph order.
    @Test func freshInstallSendsPartsInGraphOrder() throws {
        let (graph, cluster) = try Self.lowered("shop")
        let transport = NftFake()
        let applied = try Applier(transport: transport).apply(.lowering(cluster, node: Self.node))
        let batches = transport.batches
        try #require(batches.count >= 3)
        #expect(applied.plan.summary.hasPrefix("\(batches.count) transactions, \(applied.plan.messageCount) messages"))
        for batch in batches {
            let messages = Message.parse(batch)
            #expect(messages.first?.type == Message.batchBegin)
            #expect(messages.last?.type == Message.batchEnd)
            #expect(messages.count == batch.messageCount + 2)
            // Sequence numbers strictly increase, so each names one message.
            #expect(zip(messages, messages.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
            #expect(!messages.contains { [Message.delTable, Message.delChain, Message.delSet].contains($0.type) })
        }
        let baseChains = Set(graph.tables.flatMap { $0.chains.filter { $0.kind != .regular }.map(\.name) })
        func objects(_ batch: FinalizedBatch) -> [GraphObject] { batch.contentSequences.map { batch.objects[$0]! } }
        func ruleChains(_ batch: FinalizedBatch) -> [ChainName] {
            objects(batch).compactMap { if case .rule(_, let chain, _, _) = $0 { chain } else { nil } }
        }

        let opening = Message.parse(batches[0]).map(\.type)
        #expect(opening[1] == Message.newTable && opening[2] == Message.newChain)
        #expect(opening.filter { $0 == Message.newTable }.count == 2, "one per family")
        #expect(opening.contains(Message.newSet) && !opening.contains(Message.newSetElem))
        for batch in batches.dropLast() {
            #expect(ruleChains(batch).allSatisfy { !baseChains.contains($0) }, "no base chain gets a rule before the last part")
        }
        for batch in batches.dropFirst() { #expect(!Message.parse(batch).contains { $0.type == Message.newTable }) }
        let closing = batches[batches.count - 1]
        // The base chains, made empty in the first part, are flushed (a no-op) and filled.
        #expect(Set(Message.parse(closing).dropFirst().dropLast().map(\.type)) == [Message.newSetElem, Message.delRule, Message.newRule])
        #expect(Set(ruleChains(closing)) == baseChains)

        // Each table's chains are created in graph order (the order `nft list` shows).
        for table in graph.tables {
            let created = batches.flatMap { batch in
                Message.parse(batch).filter { $0.type == Message.newChain }.compactMap { message -> ChainName? in
                    if case .chain(table.family, let name, _)? = batch.objects[message.sequence] { name } else { nil }
                }
            }
            #expect(created == table.chains.map(\.name))
        }
    }

    /// Thousands of elements: the batch spans many pages and element messages stay small.
    @Test func largeGraphsSpanPages() {
        var services: [Service] = []
        var slices: [ServiceID: [EndpointSlice]] = [:]
        for i in 0..<3000 {
            let id = ServiceID(namespace: "ns", name: "svc-\(i)")
            let location = Location(file: "gen", path: "", object: id.description)
            services.append(
                Service(
                    id: id, type: .clusterIP, clusterIPs: [IPAddress(v4: 0x0A60_0000 + UInt32(i))], isHeadless: false,
                    ports: [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .number(8080), nodePort: 0)],
                    externalIPs: [], loadBalancerIngress: [], loadBalancerSourceRanges: [], externalTrafficPolicy: .cluster,
                    internalTrafficPolicy: .cluster, sessionAffinity: .none, healthCheckNodePort: 0, externalName: nil, source: location))
            let endpoints = (0..<3).map {
                Endpoint(
                    address: IPAddress(v4: 0x0AF4_0000 + UInt32(i * 4 + $0)), ready: true, serving: true, terminating: false, nodeName: nil,
                    zoneHints: [])
            }
            slices[id] = [
                EndpointSlice(
                    name: "s-\(i)", service: id, family: .v4, ports: [EndpointPort(name: "http", protocol: .tcp, port: 8080)],
                    endpoints: endpoints, source: location)
            ]
        }
        let graph = Lowering.lower(Cluster(services: services, slices: slices), node: NodeConfig())
        let batch = GraphEncoder.plan(graph).batches[0]
        #expect(batch.byteCount > 4 * 256 * 1024, "expected a batch over several 256 KiB libnftnl pages, got \(batch.byteCount) bytes")
        let messages = Message.parse(batch)
        #expect(messages.count == batch.messageCount + 2)
        #expect(Set(messages.map(\.sequence)).count == messages.count)
        let elementMessages = messages.filter { $0.type == Message.newSetElem }.count
        #expect(elementMessages > 2, "service-ips with 3000 elements must be split into several messages")
    }

    @Test func deleteBatchAddsThenDeletesBothFamilies() {
        let messages = Message.parse(GraphEncoder.deleteBatch(tableName: "svc2nft"))
        #expect(
            messages.map(\.type) == [
                Message.batchBegin, Message.newTable, Message.delTable, Message.newTable, Message.delTable, Message.batchEnd,
            ])
    }
}
