import Foundation
import Svc2NftCore

/// The input layer under a coverage-guided fuzzer (`make fuzz`): any bytes go through
/// what a manifest file goes through (JSON or YAML, Lists, documents, decoding into the
/// model, lowering) and what `apply --follow` reads (a stream of documents arriving in
/// pieces). Errors are fine; a trap, a hang or a large allocation is a finding, and
/// each one found becomes a case in InputRobustnessTests.
///
/// Built normally, it is a replay tool: `svc2nft-fuzz FILE...` runs each file once, so a
/// crash file from the fuzzer reproduces in the debugger without libFuzzer. Built by
/// `scripts/fuzz` with `-sanitize=fuzzer -DFUZZING`, libFuzzer's `main` calls
/// `LLVMFuzzerTestOneInput`.
enum FuzzInput {
    static func run(_ bytes: [UInt8]) {
        let node = NodeConfig(nodeName: "node-a", nodeZone: "zone-a", masqueradeAll: false, tableName: NodeConfig.defaultTableName)
        if let objects = try? ManifestReader.parse(bytes, file: "fuzz") {
            if let (cluster, _) = try? ClusterLoader.load(objects, keepGoing: true) {
                _ = NftText.render(Lowering.lower(cluster, node: node))
            }
            var store = ClusterStore()
            for object in objects { _ = try? store.apply(ObjectEvent(change: .upsert, object: object)) }
        }
        // As `apply --follow` receives it: in two pieces, every document drained.
        var stream = DocumentStream(file: "<stdin>")
        let middle = bytes.count / 2
        for piece in [bytes[..<middle], bytes[middle...]] {
            stream.append(piece)
            while true {
                do {
                    guard try stream.next() != nil else { break }
                } catch {
                    continue
                }
            }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzInput.run(count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

#if FUZZING
    /// libFuzzer's driver, called from our `main`: SwiftPM renames an executable's `main`
    /// (for testing) and links it in place of libFuzzer's own.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    @main
    struct Fuzz {
        static func main() {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv, fuzzTestOneInput))
        }
    }
#else
    @main
    struct Replay {
        static func main() {
            let files = CommandLine.arguments.dropFirst()
            guard !files.isEmpty else {
                FileHandle.standardError.write(
                    Data("usage: svc2nft-fuzz FILE... (replays fuzzer inputs; make fuzz runs the fuzzer)\n".utf8))
                exit(2)
            }
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("svc2nft-fuzz: cannot read \(file)\n".utf8))
                    exit(2)
                }
                FuzzInput.run([UInt8](data))
                print("ok: \(file)")
            }
        }
    }
#endif
