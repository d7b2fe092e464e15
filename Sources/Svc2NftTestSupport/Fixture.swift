import Foundation

/// One folder under `fixtures/`: inputs, command-line arguments, and the expected
/// results. Layout:
///
///     args             optional; extra arguments, one per line
///     input.yaml …     every file or folder whose name starts with "input"
///     expected.nft     stdout of a successful compile
///     expected.stderr  stderr (bad-input cases, or notes worth pinning)
///     flows.json       packet flows for the network-namespace test bed
public struct Fixture: Sendable, CustomStringConvertible {
    public let name: String
    public let directory: URL

    public var description: String { name }

    public static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures")
    }

    /// Every fixture, sorted by name.
    public static var all: [Fixture] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { Fixture(name: $0, directory: root.appendingPathComponent($0)) }
            .filter { $0.exists("args") || !$0.inputs.isEmpty }
    }

    public static func named(_ name: String) -> Fixture {
        Fixture(name: name, directory: root.appendingPathComponent(name))
    }

    public func path(_ file: String) -> String { directory.appendingPathComponent(file).path }
    public func exists(_ file: String) -> Bool { FileManager.default.fileExists(atPath: path(file)) }
    public func read(_ file: String) -> String? { try? String(contentsOfFile: path(file), encoding: .utf8) }

    /// Input paths relative to the fixture folder, sorted.
    public var inputs: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("input") }.sorted()
    }

    /// Arguments from `args`, one per line; blank lines and `#` comments ignored.
    public var arguments: [String] {
        (read("args") ?? "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .flatMap { line -> [String] in
                // "--flag value" on one line is two arguments.
                line.split(separator: " ", maxSplits: 1).map(String.init)
            }
    }

    /// `compile` with this fixture's arguments and inputs, run in the fixture folder so
    /// messages name files as the fixture does.
    public func compile(extra: [String] = []) throws -> ProcessResult {
        try Svc2NftBinary.run(["compile"] + arguments + extra + inputs, in: directory)
    }
}
