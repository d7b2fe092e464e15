import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// `svc2nft apply --follow` against the real kernel: it starts from one fixture's files,
/// then reads watch events that delete those objects and add another fixture's in
/// pieces, with pauses so that each piece is its own incremental apply. The listing at
/// the end must equal a plain `apply` of the second fixture in a fresh namespace.
@Suite struct FollowKernelTests {
    @Test(arguments: ["policy-external-local", "affinity", "dual-stack", "loadbalancer", "endpoints-v1"])
    func incrementalAppliesListLikeAFullApply(_ name: String) throws {
        if ApplyKernelTests.skip("apply --follow \(name)") { return }
        let start = Fixture.named("shop"), target = Fixture.named(name)
        let startObjects = try Self.objects(start), targetObjects = try Self.objects(target)
        var generator = SeededGenerator(seed: 11)
        let shuffled = targetObjects.shuffled(using: &generator)
        let half = shuffled.count / 2
        let some = Array(shuffled.prefix(max(1, shuffled.count / 3)))
        let pieces = [
            startObjects.map { Self.event("DELETED", $0) } + shuffled[..<half].map { Self.event("ADDED", $0) },
            shuffled[half...].map { Self.event("MODIFIED", $0) },
            some.map { Self.event("DELETED", $0) },
            some.map { Self.event("ADDED", $0) },
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-follow-\(getpid())-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var feed: [String] = []
        for (index, piece) in pieces.enumerated() {
            let file = directory.appendingPathComponent("piece-\(index).json")
            try piece.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            feed.append("cat '\(file.path)'; sleep 0.4")
        }
        let command =
            "(sleep 0.5; \(feed.joined(separator: "; "))) | '\(Svc2NftBinary.path)' apply --follow --sync-delay 100 "
            + (target.arguments + start.inputs.map { start.path($0) }).map { "'\($0)'" }.joined(separator: " ")

        let followed = try NetworkNamespace("follow")
        let result = try followed.run(["sh", "-c", command])
        #expect(result.status == 0, "\(result.stderr)")
        let syncs = result.stderr.split(separator: "\n").filter { $0.hasPrefix("applied") }
        #expect(syncs.count >= 5, "one apply for the files and one per piece:\n\(result.stderr)")
        #expect(syncs.first?.hasPrefix("applied (full): ") == true, "\(result.stderr)")
        #expect(syncs.dropFirst().allSatisfy { $0.hasPrefix("applied: ") }, "incremental applies after the first:\n\(result.stderr)")

        let reference = try NetworkNamespace("full")
        let full = try reference.run(ApplyKernelTests.apply(target))
        #expect(full.status == 0, "\(full.stderr)")
        #expect(
            NftListing.normalized(try followed.listOurTables()) == NftListing.normalized(try reference.listOurTables()),
            "\(name): the listing after incremental applies differs from a full apply")
    }

    /// `apply --follow` heals as `run` does: after `nft flush ruleset` and after another
    /// process deletes one rule, the tables list exactly as before, with one warning
    /// naming the change.
    @Test func followRepairsForeignChanges() throws {
        if ApplyKernelTests.skip("apply --follow self-healing") { return }
        let shop = Fixture.named("shop")
        let namespace = try NetworkNamespace("followheal")
        let follower = try BackgroundProcess(
            ["/usr/sbin/ip", "netns", "exec", namespace.name, Svc2NftBinary.path, "apply", "--follow"] + shop.arguments
                + shop.inputs.map { shop.path($0) })
        func waitFor(_ count: Int, _ line: String) -> Bool {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if follower.stderr.components(separatedBy: "\n").filter({ $0.contains(line) }).count >= count { return true }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return false
        }
        #expect(waitFor(1, "applied"), "\(follower.stderr)")
        let before = NftListing.normalized(try namespace.listOurTables())

        #expect(try namespace.run(["nft", "flush", "ruleset"]).status == 0)
        #expect(waitFor(2, "applied"), "no repair after flush ruleset:\n\(follower.stderr)")
        #expect(follower.stderr.contains("deleted; repairing"), "\(follower.stderr)")
        #expect(NftListing.normalized(try namespace.listOurTables()) == before, "the repair differs from the first apply")

        let handles = try namespace.run(["nft", "-a", "list", "chain", "ip", "svc2nft", "nat-prerouting"]).stdout
        // The chain line comes first with its own handle; then each rule with its handle.
        let handle = handles.components(separatedBy: "# handle ").dropFirst(2).first.map { String($0.prefix { $0.isNumber }) }
        #expect(handle != nil, "\(handles)")
        if let handle {
            #expect(try namespace.run(["nft", "delete", "rule", "ip", "svc2nft", "nat-prerouting", "handle", handle]).status == 0)
            #expect(waitFor(3, "applied"), "no repair after a deleted rule:\n\(follower.stderr)")
            #expect(NftListing.normalized(try namespace.listOurTables()) == before, "the repair of one rule differs")
        }
        #expect(follower.finish() == 0, "\(follower.stderr)")
    }

    static func objects(_ fixture: Fixture) throws -> [RawObject] {
        try fixture.inputs.flatMap { input in
            try ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
        }
    }

    static func event(_ type: String, _ object: RawObject) -> String {
        "{\"type\": \"\(type)\", \"object\": \(JSONText.render(object.value))}"
    }
}
