import Foundation
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// `NotificationReader` fed with the bytes of our own batches (a notification carries
/// the same attributes as the request that caused it) and a hand-made NFT_MSG_NEWGEN:
/// no root, no kernel.
@Suite struct NotificationReaderTests {
    static let ours: [(TableFamily, String)] = [(.ip, "svc2nft"), (.ip6, "svc2nft")]

    /// NEWGEN as the kernel sends it after a commit: from the committing socket's port,
    /// with the generation, the thread's PID and its command name.
    static func newGen(generation: UInt32, pid: UInt32, process: String, port: UInt32) -> [UInt8] {
        func bytes<T>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
        var payload: [UInt8] = [0, 0, 0, 0]  // nfgenmsg
        func attribute(_ type: UInt16, _ value: [UInt8]) {
            let length = 4 + value.count
            payload += bytes(UInt16(length)) + bytes(type) + value + Array(repeating: 0, count: (4 - length % 4) % 4)
        }
        attribute(1, bytes(generation.bigEndian))  // NFTA_GEN_ID
        attribute(2, bytes(pid.bigEndian))  // NFTA_GEN_PROC_PID
        attribute(3, Array(process.utf8) + [0])  // NFTA_GEN_PROC_NAME
        return bytes(UInt32(16 + payload.count)) + bytes(UInt16(10 << 8 | 15)) + bytes(UInt16(0)) + bytes(UInt32(0)) + bytes(port)
            + payload
    }

    static func read(_ bytes: [UInt8], tables: [(TableFamily, String)] = ours, ownPorts: Set<UInt32> = [5]) -> [ForeignChange] {
        var reader = NotificationReader(tables: tables, ownPorts: ownPorts)
        return bytes.withUnsafeBytes { reader.read($0) }
    }

    static func install() throws -> [UInt8] {
        GraphEncoder.plan(try BatchTests.graph("clusterip-basic")).batches.flatMap(\.bytes)
    }

    @Test func aForeignInstallIsReportedWithItsAuthor() throws {
        let changes = Self.read(try Self.install() + Self.newGen(generation: 7, pid: 4242, process: "nft", port: 99))
        #expect(changes.count == 1)
        #expect(changes.first?.generation == 7)
        #expect(changes.first?.pid == 4242)
        #expect(changes.first?.process == "nft")
        #expect(changes.first?.summary.hasPrefix("table ip svc2nft added, ") == true, "\(changes)")
        #expect(changes.first?.summary.hasSuffix(" more") == true, "\(changes)")
        #expect(changes.first?.description.hasPrefix("foreign change by nft (pid 4242): table ip svc2nft added") == true)
    }

    @Test func ourOwnCommitsAndOtherTablesAreIgnored() throws {
        let install = try Self.install()
        #expect(Self.read(install + Self.newGen(generation: 7, pid: 4242, process: "svc2nft", port: 5)).isEmpty, "our port")
        #expect(Self.read(install + Self.newGen(generation: 7, pid: 4242, process: "nft", port: 99), tables: [(.ip, "other")]).isEmpty)
        #expect(Self.read(Self.newGen(generation: 8, pid: 4242, process: "nft", port: 99)).isEmpty, "an empty transaction")
    }

    @Test func deletedTablesSayItAll() {
        let delete = GraphEncoder.deleteBatch(tableName: "svc2nft").bytes
        let changes = Self.read(delete + Self.newGen(generation: 9, pid: 77, process: "nft", port: 99))
        #expect(changes.map(\.summary) == ["tables ip svc2nft, ip6 svc2nft deleted"])
    }

    /// A transaction's messages may arrive in several receives; its NEWGEN closes it.
    @Test func aTransactionSpansReads() throws {
        var reader = NotificationReader(tables: Self.ours, ownPorts: [])
        let first = try Self.install().withUnsafeBytes { reader.read($0) }
        let second = Self.newGen(generation: 3, pid: 1, process: "nft", port: 99).withUnsafeBytes { reader.read($0) }
        let third = Self.newGen(generation: 4, pid: 1, process: "nft", port: 99).withUnsafeBytes { reader.read($0) }
        #expect(first.isEmpty)
        #expect(second.count == 1)
        #expect(third.isEmpty, "the next transaction starts empty")
    }
}
