import Foundation

/// A child process's exit, wall time, peak resident memory and CPU time.
struct Measured {
    let status: Int32
    let seconds: Double
    let peakRSSKB: Int
    /// User and system CPU seconds of the child (0 when it timed out): on this shared
    /// 2-core VM steadier than wall time when others are building.
    var cpuSeconds: Double = 0
    var ok: Bool { status == 0 }
}

/// Runs argv with stdout (and optionally stdin) redirected to files; kills it at `timeout`.
enum Spawn {
    static func run(_ argv: [String], stdout: String = "/dev/null", stdin: String = "/dev/null", timeout: Double = 600) -> Measured {
        // Peak memory is read from /proc/PID/status (VmHWM) while the child runs: the
        // kernel's ru_maxrss also counts the memory of the process the child was forked
        // from, and this benchmark process holds hundreds of MB of generated input.
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let files: [String] = [stdin, stdout, "/tmp/svc2nft-bench.stderr"]
        let paths = files.map { (path: String) -> UnsafeMutablePointer<CChar> in strdup(path)! }
        defer { paths.forEach { free($0) } }
        let start = DispatchTime.now().uptimeNanoseconds
        let pid = fork()
        if pid == 0 {
            let input = open(paths[0], O_RDONLY)
            let output = open(paths[1], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let errors = open(paths[2], O_WRONLY | O_CREAT | O_APPEND, 0o644)
            if input < 0 || output < 0 || errors < 0 { _exit(126) }
            dup2(input, 0)
            dup2(output, 1)
            dup2(errors, 2)
            execvp(cArgs[0]!, &cArgs)
            _exit(127)
        }
        guard pid > 0 else { return Measured(status: -1, seconds: 0, peakRSSKB: 0) }
        var status: Int32 = 0
        var usage = rusage()
        var peak = 0
        while true {
            peak = max(peak, highWaterKB(pid))
            let done = wait4(pid, &status, WNOHANG, &usage)
            if done == pid { break }
            if Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > timeout {
                kill(pid, SIGKILL)
                _ = wait4(pid, &status, 0, &usage)
                return Measured(status: 124, seconds: timeout, peakRSSKB: peak)
            }
            usleep(1000)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        func cpu(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return Measured(
            status: code, seconds: seconds, peakRSSKB: peak > 0 ? peak : Int(usage.ru_maxrss),
            cpuSeconds: cpu(usage.ru_utime) + cpu(usage.ru_stime))
    }

    /// VmHWM of a running process, in KB; 0 once it has exited, and before it has
    /// exec'd (a fresh fork still shows this process's memory).
    static func highWaterKB(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        let lines = status.split(separator: "\n")
        func field(_ name: String) -> String? {
            lines.first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        guard let name = field("Name"), name != ownName, let hwm = field("VmHWM") else { return 0 }
        return Int(hwm.split(separator: " ").first ?? "") ?? 0
    }

    static let ownName: String = {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Name:") } ?? ""
        return line.dropFirst(5).trimmingCharacters(in: .whitespaces)
    }()
}
