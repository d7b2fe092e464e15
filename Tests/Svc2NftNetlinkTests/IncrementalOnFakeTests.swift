import Foundation
import Svc2NftCommandLine
import Svc2NftCore
import Svc2NftNetlink
import Svc2NftTestSupport
import Testing

/// `apply --follow`'s differences sent to `NftFake`: after every event (each fixture's
/// objects added one by one in random order, a third deleted and added back, then all
/// deleted) the kernel's rules accept the transaction, and the tables equal a fresh
/// install of a full lowering of the same objects.
@Suite struct IncrementalOnFakeTests {
    static let fixtures = Fixture.all.filter { $0.exists("expected.nft") && !$0.arguments.contains("--keep-going") }.map(\.name)

    @Test(arguments: fixtures)
    func differencesReachTheFreshInstallsTables(_ name: String) throws {
        let fixture = Fixture.named(name)
        let node = try NodeOptions.parse(fixture.arguments).nodeConfig()
        var objects: [RawObject] = []
        for input in fixture.inputs {
            objects += try ManifestReader.parse([UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input))), file: input)
        }
        var generator = SeededGenerator(seed: 7)
        var store = ClusterStore()
        var incremental = IncrementalLowering(node: node)
        let fake = NftFake()
        try Applier(transport: fake).apply(.remembered(incremental))

        func step(_ event: ObjectEvent) throws {
            let changes = incremental.update(try store.apply(event), from: store)
            try Applier(transport: fake).apply(changes)
            let fresh = NftFake()
            try Applier(transport: fresh).apply(.lowering(store.cluster, node: node))
            #expect(fake.snapshot() == fresh.snapshot(), "\(name): after \(event.change) of \(event.object.path)")
        }

        for object in objects.shuffled(using: &generator) { try step(ObjectEvent(change: .upsert, object: object)) }
        let some = objects.shuffled(using: &generator).prefix(max(1, objects.count / 3))
        for object in some { try step(ObjectEvent(change: .delete, object: object)) }
        for object in some { try step(ObjectEvent(change: .upsert, object: object)) }
        for object in objects.shuffled(using: &generator) { try step(ObjectEvent(change: .delete, object: object)) }
    }
}
