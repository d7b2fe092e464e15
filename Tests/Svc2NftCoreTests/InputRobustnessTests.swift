import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// No input crashes, hangs or blows up svc2nft: each case once found by probing the
/// debug and release builds. Cases that crashed run the built binary as a child with a
/// timeout, so a regression fails the test instead of killing the test runner.
@Suite(.serialized) struct InputRobustnessTests {
    static let service = """
        apiVersion: v1
        kind: Service
        metadata: {namespace: shop, name: web}
        spec:
          clusterIP: 10.96.0.10
          ports: [{name: http, port: 80, targetPort: 8080}]

        """

    /// A scratch directory, removed after `body`.
    static func inTemporaryDirectory(_ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-robust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    /// Runs `svc2nft compile` and requires an orderly exit (no signal, no timeout).
    static func compile(_ arguments: [String], in directory: URL? = nil, stdin: String? = nil, timeout: Double = 20) throws
        -> ProcessResult
    {
        let result = try Svc2NftBinary.run(["compile"] + arguments, in: directory, stdin: stdin, timeout: timeout)
        #expect(!result.timedOut, "svc2nft compile \(arguments) hung: \(result.stderr.prefix(300))")
        #expect(!result.signaled, "svc2nft compile \(arguments) crashed: \(result.stderr.prefix(600))")
        return result
    }

    @Test func integersBeyondInt64AreNumbersNotTraps() throws {
        for text in [#"{"x":9999999999999999999}"#, #"{"x":-9999999999999999999}"#, #"{"x":123456789012345678901234567890}"#] {
            let result = try Self.compile([], stdin: text)
            #expect(result.status == 0, "\(text): \(result.stderr)")
        }
        let port = Self.service.replacingOccurrences(of: "port: 80,", with: "port: 99999999999999999999,")
        #expect(try Self.compile([], stdin: port).stderr.contains("is not"))
        // apply --follow reads its documents with the same parser: Svc2NftKernelTests.
    }

    /// A List over 1 MiB (its items are checked, not parsed) cut right after `"items":`
    /// or after an item's `"kind":` used to index past the end of the input.
    @Test func largeListCutAfterAColonIsASyntaxError() throws {
        let item = #"{"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "\#(String(repeating: "x", count: 100))"}}"#
        let list = #"{"kind": "List", "items": ["# + Array(repeating: item, count: 12_000).joined(separator: ", ") + "]}"
        let afterItems = String(list[..<list.range(of: #""items":"#)!.upperBound])
        let afterKind = String(list[..<list.range(of: #""kind":"#, options: .backwards)!.upperBound])
        try Self.inTemporaryDirectory { directory in
            for (name, text) in [("items.json", afterItems + String(repeating: " ", count: 1 << 20)), ("kind.json", afterKind)] {
                try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
                let result = try Self.compile([name], in: directory)
                #expect(result.status == 2 && result.stderr.contains("unexpected end of input"), "\(name): \(result.stderr)")
            }
        }
    }

    /// A file rewritten, or truncated, while svc2nft reads and decodes it: an error or a
    /// result, never a precondition failure or SIGBUS (the input was mapped, and a List
    /// item checked once could differ when parsed again).
    @Test func fileChangedDuringTheRunNeverCrashes() throws {
        let item = #"{"kind": "Service", "metadata": {"name": "s%d"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}"#
        let list = #"{"kind": "List", "items": ["# + (0..<12_000).map { String(format: item, $0) }.joined(separator: ",\n") + "]}"
        let variant = list.replacingOccurrences(of: "\"port\": 80", with: "\"port\": 9x")
        try Self.inTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("list.json")
            try list.write(to: file, atomically: false, encoding: .utf8)
            let stop = Flag()
            let writer = Thread {
                var flip = false
                while !stop.isSet {
                    flip.toggle()
                    // In place: same inode, so a mapping would see it.
                    if let handle = try? FileHandle(forWritingTo: file) {
                        if flip { try? handle.truncate(atOffset: 1000) }
                        try? handle.seek(toOffset: 0)
                        handle.write(Data((flip ? variant : list).utf8))
                        try? handle.close()
                    }
                }
            }
            writer.start()
            defer { stop.set() }
            for _ in 0..<15 {
                let result = try Self.compile(["list.json"], in: directory)
                #expect([0, 2].contains(result.status), "\(result.stderr.prefix(300))")
            }
        }
    }

    /// Aliases and merge keys are refused by line; a 457-byte alias bomb took 1.3 GB.
    @Test func yamlAliasesAndMergeKeysAreRefused() throws {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<10 {
            let name = Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(level)))
            let previous = Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(level - 1)))
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        let start = ContinuousClock.now
        let result = try Self.compile([], stdin: bomb, timeout: 10)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(result.status == 2 && result.stderr.contains("<stdin>:2:") && result.stderr.contains("alias"), "\(result.stderr)")

        // An alias right after a collection of empty values looks like its parent by
        // position; repeated, it grew with the square of the input (52 KB: 0.8 GB, 12 s).
        let square = "- &a\n" + String(repeating: "  -\n", count: 8000) + String(repeating: "- *a\n", count: 4000)
        let squared = try Self.compile([], stdin: square, timeout: 10)
        #expect(squared.status == 2 && squared.stderr.contains("alias"), "\(squared.stderr)")

        let merge = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  <<: {clusterIP: 10.96.0.10}\n  ports: [{port: 80}]\n"
        let merged = try Self.compile([], stdin: merge)
        #expect(merged.status == 2 && merged.stderr.contains("<stdin>:5:3: YAML merge keys (<<) are not supported"), "\(merged.stderr)")

        // Anchors alone are harmless, and empty values do not look like aliases.
        let anchored = Self.service.replacingOccurrences(of: "metadata:", with: "metadata: &m") + "status:\n  loadBalancer:\n"
        #expect(try Self.compile([], stdin: anchored).status == 0)
    }

    @Test func fifosNeverHang() throws {
        try Self.inTemporaryDirectory { directory in
            try Self.service.write(to: directory.appendingPathComponent("web.yaml"), atomically: true, encoding: .utf8)
            #expect(mkfifo(directory.appendingPathComponent("pipe.yaml").path, 0o600) == 0)
            let inDirectory = try Self.compile(["."], in: directory, timeout: 10)
            #expect(inDirectory.status == 0, "\(inDirectory.stderr)")
            // Named on the command line: read; nobody writes, so it is empty.
            let named = try Self.compile(["pipe.yaml", "web.yaml"], in: directory, timeout: 10)
            #expect(named.status == 0, "\(named.stderr)")
        }
    }

    @Test func pipesAndStdinPathsAreRead() throws {
        let result = try Self.compile(["/dev/stdin"], stdin: Self.service)
        #expect(result.status == 0 && result.stdout.contains("10.96.0.10"), "\(result.stderr)")
        #expect(try Self.compile(["/dev/null"]).status == 0)
        // bash's process substitution hands over /dev/fd/63, a pipe.
        let substituted = try Command.run(
            "/bin/bash", ["-c", "'\(Svc2NftBinary.path)' compile <(printf '%s' \"$0\")", Self.service], timeout: 20)
        #expect(substituted.status == 0 && substituted.stdout.contains("10.96.0.10"), "\(substituted.stderr)")
        // An endless device is refused before it is read.
        let zero = try Self.compile(["/dev/zero"], timeout: 10)
        #expect(zero.status == 2 && zero.stderr.contains("not a regular file or pipe"), "\(zero.stderr)")
    }

    /// A mounted ConfigMap: `web.yaml -> ..data/web.yaml`, `..data -> ..2026_12_05_x`.
    @Test func mountedConfigMapListsEachObjectOnce() throws {
        try Self.inTemporaryDirectory { directory in
            let manager = FileManager.default
            let versioned = directory.appendingPathComponent("..2026_12_05_00_00_00.1")
            try manager.createDirectory(at: versioned, withIntermediateDirectories: true)
            try Self.service.write(to: versioned.appendingPathComponent("web.yaml"), atomically: true, encoding: .utf8)
            try manager.createSymbolicLink(
                atPath: directory.appendingPathComponent("..data").path, withDestinationPath: versioned.lastPathComponent)
            try manager.createSymbolicLink(
                atPath: directory.appendingPathComponent("web.yaml").path, withDestinationPath: "..data/web.yaml")
            let result = try Self.compile(["."], in: directory)
            #expect(result.status == 0 && !result.stderr.contains("duplicate"), "\(result.stderr)")
            #expect(result.stdout.contains("10.96.0.10"))
        }
    }

    @Test func byteOrderMarkIsSkippedAndInvalidUTF8Refused() throws {
        try Self.inTemporaryDirectory { directory in
            let bom = Data([0xEF, 0xBB, 0xBF]) + Data(Self.service.utf8)
            try bom.write(to: directory.appendingPathComponent("bom.yaml"))
            try (Data([0xEF, 0xBB, 0xBF]) + Data(#"{"kind": "List", "items": []}"#.utf8)).write(
                to: directory.appendingPathComponent("bom.json"))
            #expect(try Self.compile(["bom.yaml", "bom.json"], in: directory).status == 0)

            let badYAML = Data("apiVersion: v1\nkind: Service\nmetadata: {name: \"w".utf8) + Data([0xFF]) + Data("\"}\n".utf8)
            try badYAML.write(to: directory.appendingPathComponent("bad.yaml"))
            let yaml = try Self.compile(["bad.yaml"], in: directory)
            #expect(yaml.status == 2 && yaml.stderr.contains("bad.yaml:3:") && yaml.stderr.contains("invalid UTF-8"), "\(yaml.stderr)")

            let badJSON = Data(#"{"kind": "Service", "metadata": {"name": "w"#.utf8) + Data([0xC3, 0x28]) + Data(#""}}"#.utf8)
            try badJSON.write(to: directory.appendingPathComponent("bad.json"))
            let json = try Self.compile(["bad.json"], in: directory)
            #expect(json.status == 2 && json.stderr.contains("invalid UTF-8"), "\(json.stderr)")
        }
    }

    /// Empty input compiles (exit 0) with a warning; `apply` refuses it when our tables
    /// hold Services (kernel tests).
    @Test func emptyInputWarns() throws {
        for stdin in ["", "\n", "---\n"] {
            let result = try Self.compile([], stdin: stdin)
            #expect(result.status == 0 && result.stderr.contains("warning: no Services in the input"), "\(result.stderr)")
        }
        try Self.inTemporaryDirectory { directory in
            let result = try Self.compile(["."], in: directory)
            #expect(result.status == 0 && result.stderr.contains("warning: no Services in the input"))
        }
    }

    /// `explain --json` comes from an encoder, and the only free text that could reach
    /// it (zone names) is checked as the API server checks it: a hostile `--node-zone`
    /// is a bad option, a hostile zone hint bad input.
    @Test func explainJSONStaysValidWithHostileText() throws {
        let fixture = Fixture.named("topology")
        let explain = ["explain", "--json", "--from", "10.0.0.1", "--to", "10.96.6.1:80"]
        let result = try Svc2NftBinary.run(explain + fixture.arguments + fixture.inputs, in: fixture.directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) is [String: Any])
        let hostile = try Svc2NftBinary.run(explain + ["--node-zone", "a\"}\n"] + fixture.inputs, in: fixture.directory)
        #expect(hostile.status == 2 && hostile.stderr.contains("--node-zone"), "\(hostile.stderr)")
        let hint =
            Self.service + """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {namespace: shop, name: web-1, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                endpoints: [{addresses: [10.244.0.5], hints: {forZones: [{name: "a\\"}"}]}}]

                """
        #expect(try Self.compile([], stdin: hint).status == 2)
    }

    @Test func badOptionExits2() throws {
        let result = try Svc2NftBinary.run(["compile", "--no-such-option"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("Unknown option"))
        #expect(try Svc2NftBinary.run(["no-such-command"]).status == 2)
        #expect(try Svc2NftBinary.run(["compile", "--help"]).status == 0)
    }
}

/// A flag one thread sets and another reads.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
