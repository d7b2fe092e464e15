import Foundation

/// What a finished child process printed and returned.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Ended by a signal (a trap, SIGBUS, or the timeout's SIGKILL), not by `exit`.
    public var signaled = false
    /// Killed because it outlived its timeout.
    public var timedOut = false
}

/// Runs commands for tests: the built `svc2nft` binary, and system tools (`nft`, `ip`).
public enum Svc2NftBinary {
    /// The `svc2nft` executable built beside the test bundle.
    public static var path: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var dir = here
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("svc2nft").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/svc2nft").path
    }

    public static func run(
        _ arguments: [String], in directory: URL? = nil, stdin: String? = nil, timeout: Double? = nil
    ) throws -> ProcessResult {
        try Command.run(path, arguments, in: directory, stdin: stdin, timeout: timeout)
    }
}

/// A child process with captured output.
public enum Command {
    /// `timeout`: seconds after which the child is killed (a hang becomes a failed test,
    /// not a stuck run).
    public static func run(
        _ executable: String, _ arguments: [String], in directory: URL? = nil, stdin: String? = nil, timeout: Double? = nil
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        let killed = DataBox()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if process.isRunning {
                    killed.data = Data([1])
                    kill(pid, SIGKILL)
                }
            }
        }
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so a full stderr pipe cannot block the child.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        process.waitUntilExit()
        var result = ProcessResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
        result.signaled = process.terminationReason == .uncaughtSignal
        result.timedOut = !killed.data.isEmpty
        return result
    }

    /// Finds a program on the usual system paths; nil when absent.
    public static func which(_ name: String) -> String? {
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    public static var isRoot: Bool { getuid() == 0 }
}

/// Holds bytes read on another thread; the DispatchGroup orders the write before the read.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
