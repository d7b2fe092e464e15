import Foundation

/// A node for `svc2nft run` tests: a node namespace where the agent runs and the API
/// server double listens (127.0.0.1:6443), and a pod namespace behind a veth whose
/// addresses 10.244.1.5 and 10.244.1.6 serve HTTP on port 8080, each answering with its
/// own address. ClusterIPs (10.96.0.0/16) are routed towards the pods, so a request from
/// the node reaches a pod only through the agent's DNAT; except 10.96.0.99:80, which the
/// pod namespace holds and answers itself (an unallocated address inside the Service
/// CIDR that a packet reaches unless a rule drops it). Everything goes away with the
/// value: the agent gets SIGTERM, servers are killed, namespaces deleted.
public final class AgentBed {
    public let node: NetworkNamespace
    public let pod: NetworkNamespace
    public let certificates: TestCertificates
    public let double: APIServerDouble
    public private(set) var listener: APIServerListener?
    public let kubeconfig: String
    public let logFile: URL
    private var agent: Process?
    private var servers: [Process] = []

    public static let podAddresses = ["10.244.1.5", "10.244.1.6"]

    public init(withoutServiceCIDRs: Bool = false) throws {
        node = try NetworkNamespace("agent-node")
        pod = try NetworkNamespace("agent-pod")
        let setup: [[String]] = [
            ["ip", "-n", node.name, "link", "set", "lo", "up"],
            ["ip", "-n", pod.name, "link", "set", "lo", "up"],
            ["ip", "-n", node.name, "link", "add", "vn0", "type", "veth", "peer", "name", "vp0", "netns", pod.name],
            ["ip", "-n", node.name, "addr", "add", "10.244.1.1/24", "dev", "vn0"],
            ["ip", "-n", node.name, "link", "set", "vn0", "up"],
            ["ip", "-n", pod.name, "addr", "add", "10.244.1.5/24", "dev", "vp0"],
            ["ip", "-n", pod.name, "addr", "add", "10.244.1.6/24", "dev", "vp0"],
            ["ip", "-n", pod.name, "addr", "add", "10.96.0.99/32", "dev", "vp0"],
            ["ip", "-n", pod.name, "link", "set", "vp0", "up"],
            ["ip", "-n", pod.name, "route", "add", "default", "via", "10.244.1.1"],
            ["ip", "-n", node.name, "route", "add", "10.96.0.0/16", "dev", "vn0"],
        ]
        for argv in setup {
            let result = try Command.run(Command.which("ip")!, Array(argv.dropFirst()))
            guard result.status == 0 else { throw TestBedError(message: "\(argv.joined(separator: " ")): \(result.stderr)") }
        }
        certificates = try TestCertificates()
        double = APIServerDouble(bookmarkInterval: .milliseconds(500), withoutServiceCIDRs: withoutServiceCIDRs)
        kubeconfig = try certificates.kubeconfig(server: "https://127.0.0.1:6443", token: double.token)
        logFile = certificates.directory.appendingPathComponent("agent.log")
        let server = """
            import http.server, socketserver, sys, threading
            # socketserver, not http.server.HTTPServer: its bind looks the address up in DNS,
            # which inside a test namespace waits 20 s for a resolver it cannot reach.
            class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
                daemon_threads = True
                allow_reuse_address = True
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = self.server.server_address[0].encode()
                    self.send_response(200)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *args): pass
            for address in sys.argv[1:]:
                ip, port = address.rsplit(':', 1)
                s = S((ip, int(port)), H)
                threading.Thread(target=s.serve_forever, daemon=True).start()
            print('ready', flush=True)
            threading.Event().wait()
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Command.which("ip")!)
        process.arguments =
            ["netns", "exec", pod.name, "python3", "-c", server] + Self.podAddresses.map { "\($0):8080" } + ["10.96.0.99:80"]
        let ready = Pipe()
        process.standardOutput = ready
        try process.run()
        servers.append(process)
        _ = ready.fileHandleForReading.availableData
    }

    /// Starts serving the double (an agent started before this finds no API server).
    public func startAPI() throws {
        listener = try APIServerListener(double, certificates: certificates, namespace: node.name, port: 6443)
    }

    /// Stops serving: connections drop, new ones are refused.
    public func stopAPI() {
        listener?.stop()
        listener = nil
    }

    /// Starts `svc2nft run` in the node namespace, logging to `logFile`.
    public func startAgent(_ extra: [String] = []) throws {
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Command.which("ip")!)
        process.arguments =
            ["netns", "exec", node.name, Svc2NftBinary.path, "run", "--kubeconfig", kubeconfig, "--hostname-override", "node-a"]
            + ["--min-sync-period", "100ms", "--sync-period", "5s", "--cluster-cidr", "10.244.0.0/16", "-v", "2"] + extra
        process.standardOutput = log
        process.standardError = log
        try process.run()
        agent = process
    }

    /// SIGTERM to the agent; its exit status.
    @discardableResult
    public func stopAgent() -> Int32? {
        guard let agent else { return nil }
        self.agent = nil
        agent.terminate()
        agent.waitUntilExit()
        return agent.terminationStatus
    }

    public var agentIsRunning: Bool { agent?.isRunning ?? false }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// A GET from the node to `address:port`: the body (the pod address that answered),
    /// or nil when no endpoint answered within a second.
    public func get(_ address: String, port: Int = 80) throws -> String? {
        let result = try node.run(["curl", "-s", "-m", "1", "http://\(address):\(port)/"])
        return result.status == 0 ? result.stdout : nil
    }

    /// curl's exit status for a GET from the node (7: refused, 28: timed out).
    public func curlStatus(_ address: String, port: Int = 80) throws -> Int32 {
        try node.run(["curl", "-s", "-m", "1", "http://\(address):\(port)/"]).status
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass.
    public func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    deinit {
        stopAgent()
        stopAPI()
        for server in servers {
            // SIGKILL: Foundation's Process starts children with most signals blocked
            // (SIGTERM included), and python3 does not unblock them.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
    }
}
