import Foundation

/// Drives `Tests/netns/testbed.py`: builds network namespaces for a fixture, loads a
/// ruleset into the node namespace with a loader command, replays `flows.json`, and
/// returns each flow's problems (empty when the kernel did what the flow expects).
public enum TestBed {
    /// One flow's verdict: its problems (none when the kernel did what it expects).
    public struct FlowResult: Decodable, Sendable {
        public let name: String
        public let problems: [String]
        public let tries: Int
    }

    /// A flow the bed could not run here, and why (for example no SCTP).
    public struct Skipped: Decodable, Sendable {
        public let name: String
        public let reason: String
    }

    /// Everything one bed run printed.
    public struct Report: Decodable, Sendable {
        public let flows: [FlowResult]
        public let skipped: [Skipped]
    }

    public static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/netns/testbed.py").path
    }

    /// Why kernel tests cannot run here, or nil when they can.
    public static var unavailableReason: String? {
        if !Command.isRoot { return "not root (network namespaces and nft need CAP_NET_ADMIN)" }
        if Command.which("nft") == nil { return "nft is not installed" }
        if Command.which("ip") == nil { return "iproute2 (ip) is not installed" }
        if Command.which("python3") == nil { return "python3 is not installed" }
        return nil
    }

    /// Runs the fixture's flows with `loader` (argv run inside the node namespace;
    /// `{node}` is replaced by the node namespace's name).
    public static func run(_ fixture: Fixture, loader: [String], timeout: Double = 1.0) throws -> Report {
        var arguments = [script, "run", "--flows", fixture.path("flows.json"), "--timeout", String(timeout)]
        let args = fixture.arguments
        for (index, argument) in args.enumerated() where index + 1 < args.count {
            if argument == "--node-ip" { arguments += ["--node-ip", args[index + 1]] }
            if argument == "--cluster-cidr" { arguments += ["--pod-cidr", args[index + 1]] }
        }
        let result = try Command.run(Command.which("python3")!, arguments + ["--"] + loader)
        guard result.status == 0 else {
            throw TestBedError(message: "test bed failed (\(result.status)): \(result.stderr)")
        }
        return try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
    }
}

/// The bed itself failed (namespaces, loader, servers), not a flow.
public struct TestBedError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
