import Foundation

/// A child process that runs while the test talks to it (`apply --follow`, a reply
/// server): standard input stays open for the test to write, standard error goes to a
/// file. Killed, if still running, when the value goes away (also on failure).
public final class BackgroundProcess {
    public let process = Process()
    private let input = Pipe()
    private let errorFile: URL

    public init(_ argv: [String], environment: [String: String] = [:]) throws {
        errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-bg-\(UUID().uuidString).stderr")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
    }

    /// Writes to the child's standard input.
    public func write(_ text: String) {
        input.fileHandleForWriting.write(Data(text.utf8))
    }

    /// What the child wrote to standard error so far.
    public var stderr: String {
        (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    }

    /// Closes standard input and waits up to `timeout` seconds for the exit status; nil
    /// (and the child terminated) when it did not exit in time.
    public func finish(timeout: Double = 20) -> Int32? {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            stop()
            return nil
        }
        return process.terminationStatus
    }

    /// SIGKILL, not `terminate()`: a child spawned from a test's worker thread inherits
    /// its blocked signals, SIGTERM among them, and would never end.
    private func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { stop() }
        try? FileManager.default.removeItem(at: errorFile)
    }
}
