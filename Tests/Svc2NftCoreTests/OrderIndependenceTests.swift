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

/// A small deterministic generator so shuffles are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Minimal JSON writer for test inputs.
enum JSONText {
    static func render(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n == n.rounded() ? String(Int(n)) : String(n)
        case .string(let s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default:
                    if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
                }
            }
            return out + "\""
        case .array(let items): return "[" + items.map(render).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.pairs.map { render(.string($0.key)) + ":" + render($0.value) }.joined(separator: ",") + "}"
        }
    }
}
