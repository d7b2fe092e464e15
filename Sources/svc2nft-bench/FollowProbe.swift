import Foundation

/// "One Service changed" as an operator would run it: `svc2nft apply --follow` starts
/// from the whole input, then one changed Service (its Service and slices, as a watch
/// sends them) is written to its standard input, again and again (`changes` in turn:
/// changed, then back). Measures from each write to the `applied:` line of its apply.
enum FollowProbe {
    struct Result {
        /// The initial full apply, inside the follower (reading, compiling, applying).
        let initial: Double
        /// Each write of a change to the end of its apply, wall clock, minus the sync delay.
        let changes: [Double]
    }

    static let syncDelayMilliseconds = 5

    static func run(namespace: String, binary: String, arguments: [String], changes: [String], count: Int) -> Result? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        if !FileManager.default.fileExists(atPath: "/usr/sbin/ip") { process.executableURL = URL(fileURLWithPath: "/sbin/ip") }
        process.arguments =
            ["netns", "exec", namespace, binary, "apply", "--follow", "--sync-delay", "\(syncDelayMilliseconds)"] + arguments
        let input = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let started = DispatchTime.now().uptimeNanoseconds
        guard (try? process.run()) != nil else { return nil }
        var lines = LineReader(handle: errors.fileHandleForReading)
        guard lines.next(startingWith: "applied") != nil else { return nil }
        let initial = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var times: [Double] = []
        for index in 0..<count {
            let written = DispatchTime.now().uptimeNanoseconds
            input.fileHandleForWriting.write(Data(changes[index % changes.count].utf8))
            guard lines.next(startingWith: "applied") != nil else { return nil }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - written) / 1e9 - Double(syncDelayMilliseconds) / 1000)
        }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return Result(initial: initial, changes: times)
    }
}

/// Reads lines from a pipe as they come.
struct LineReader {
    let handle: FileHandle
    var buffer = Data()

    init(handle: FileHandle) { self.handle = handle }

    /// The next line with this prefix (other lines are passed to stderr); nil at EOF.
    mutating func next(startingWith prefix: String) -> String? {
        next { $0.hasPrefix(prefix) }
    }

    /// The next line that contains `text` (a log line starts with its time).
    mutating func next(containing text: String) -> String? {
        next { $0.contains(text) }
    }

    private mutating func next(where wanted: (String) -> Bool) -> String? {
        while true {
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                Bench.log("follower: \(line)")
                if wanted(line) { return line }
            }
            let more = handle.availableData
            if more.isEmpty { return nil }
            buffer.append(more)
        }
    }
}
