import Foundation

/// A child process's exit, wall time and peak resident memory (from wait4's rusage).
struct Measured {
    let status: Int32
    let seconds: Double
    let peakRSSKB: Int
    var ok: Bool { status == 0 }
}

/// Runs argv with stdout (and optionally stdin) redirected to files; kills it at `timeout`.
enum Spawn {
    static func run(_ argv: [String], stdout: String = "/dev/null", stdin: String = "/dev/null", timeout: Double = 600) -> Measured {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/tmp/svc2nft-bench.stderr", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let start = DispatchTime.now().uptimeNanoseconds
        guard posix_spawnp(&pid, argv[0], &actions, nil, &cArgs, environ) == 0 else {
            return Measured(status: -1, seconds: 0, peakRSSKB: 0)
        }
        var status: Int32 = 0
        var usage = rusage()
        while true {
            let done = wait4(pid, &status, WNOHANG, &usage)
            if done == pid { break }
            if Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > timeout {
                kill(pid, SIGKILL)
                _ = wait4(pid, &status, 0, &usage)
                return Measured(status: 124, seconds: timeout, peakRSSKB: Int(usage.ru_maxrss))
            }
            usleep(2000)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Measured(status: code, seconds: seconds, peakRSSKB: Int(usage.ru_maxrss))
    }
}
