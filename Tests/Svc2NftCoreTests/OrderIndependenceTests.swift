import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// The same objects in any order, from any number of files, compile to the same bytes.
@Suite struct OrderIndependenceTests {
    /// Splits a fixture's objects into one JSON file each, shuffled, and compiles the folder.
    @Test(arguments: ["shop", "policy-external-local", "dual-stack", "affinity", "endpoints-v1"])
    func shuffledFilesGiveIdenticalOutput(_ name: String) throws {
        let fixture = Fixture.named(name)
        let expected = try #require(fixture.read("expected.nft"))
        var objects: [RawObject] = []
        for input in fixture.inputs {
            let bytes = [UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent(input)))
            objects += try ManifestReader.parse(bytes, file: input)
        }
        var generator = SeededGenerator(seed: 42)
        for round in 0..<3 {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-order-\(getpid())-\(name)-\(round)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            for (index, object) in objects.shuffled(using: &generator).enumerated() {
                // File names in shuffled order too: the reader sorts by name.
                try JSONText.render(object.value).write(
                    to: dir.appendingPathComponent("obj-\(index).json"), atomically: true, encoding: .utf8)
            }
            let result = try Svc2NftBinary.run(["compile"] + fixture.arguments + [dir.path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == expected, "round \(round) of \(name) differs from expected.nft")
        }
    }

    /// Reversed `List` items in one file.
    @Test func reversedListGivesIdenticalOutput() throws {
        let fixture = Fixture.named("shop")
        let bytes = [UInt8](try Data(contentsOf: fixture.directory.appendingPathComponent("input.yaml")))
        let objects = try ManifestReader.parse(bytes, file: "input.yaml")
        let list = Value.object(["apiVersion": .string("v1"), "kind": .string("List"), "items": .array(objects.reversed().map(\.value))])
        let result = try Svc2NftBinary.run(["compile"] + fixture.arguments + ["-"], stdin: JSONText.render(list))
        #expect(result.status == 0)
        #expect(result.stdout == fixture.read("expected.nft"))
    }
}
