import Foundation
import Svc2NftTestSupport

/// First-connection latency to a Service by its number of endpoints (issue 18's "endpoint
/// choice is O(1)"): a *node* namespace runs `svc2nft apply` and connects to the
/// ClusterIP from its own stack (nat output: every SYN picks an endpoint); a *pods*
/// namespace answers on every endpoint address at once (AnyIP: a local route for the
/// whole pod range, one listener on 0.0.0.0). Rulesets with 10, 1,000 and 5,000
/// endpoints take turns, `rounds` times, each round `connections` connections, so a slow
/// drift of the machine hits every size alike. Reports the median connect time per size
/// and its ratio to the 10-endpoint Service.
enum EndpointChoiceProbe {
    static let clusterIP = "10.96.0.10"
    static let port: UInt16 = 80

    /// One Service with `count` ready endpoints 10.200.x.y:8080 (EndpointSlices of 1,000).
    static func cluster(endpoints count: Int) -> String {
        var items = [
            """
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"choice","namespace":"bench"},
             "spec":{"clusterIP":"\(clusterIP)","ports":[{"name":"http","port":\(port),"protocol":"TCP","targetPort":8080}]}}
            """
        ]
        for slice in stride(from: 0, to: count, by: 1000) {
            let addresses = (slice..<min(count, slice + 1000)).map {
                "{\"addresses\":[\"10.200.\($0 / 250).\($0 % 250 + 1)\"],\"conditions\":{\"ready\":true}}"
            }
            items.append(
                """
                {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","addressType":"IPv4",
                 "metadata":{"name":"choice-\(slice / 1000)","namespace":"bench","labels":{"kubernetes.io/service-name":"choice"}},
                 "ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[\(addresses.joined(separator: ","))]}
                """)
        }
        return "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\(items.joined(separator: ","))]}"
    }

    /// The median connect time (seconds) per endpoint count, or nil when a step failed.
    static func run(binary: String, sizes: [Int], rounds: Int, connections: Int) throws -> [Int: Double]? {
        let node = try NetworkNamespace("choice-node"), pods = try NetworkNamespace("choice-pods")
        let link = "s2nc\(getpid() % 100000)"
        let setup: [(NetworkNamespace?, [String])] = [
            (nil, ["ip", "link", "add", link, "netns", node.name, "type", "veth", "peer", "name", "eth0", "netns", pods.name]),
            (node, ["ip", "addr", "add", "10.1.0.1/24", "dev", link]), (node, ["ip", "link", "set", link, "up"]),
            (node, ["ip", "link", "set", "lo", "up"]), (node, ["ip", "route", "add", "default", "via", "10.1.0.2"]),
            (pods, ["ip", "addr", "add", "10.1.0.2/24", "dev", "eth0"]), (pods, ["ip", "link", "set", "eth0", "up"]),
            (pods, ["ip", "link", "set", "lo", "up"]), (pods, ["ip", "route", "add", "local", "10.200.0.0/16", "dev", "lo"]),
        ]
        for (namespace, argv) in setup {
            let result = try namespace.map { try $0.run(argv) } ?? Command.run(Command.which(argv[0])!, Array(argv.dropFirst()))
            guard result.status == 0 else {
                Bench.log("endpoint choice: \(argv.joined(separator: " ")): \(result.stderr)")
                return nil
            }
        }
        let listener = try NamespaceThread.listeningSocket(in: pods.name, host: "0.0.0.0", port: 8080, backlog: 1024)
        defer { close(listener) }
        let acceptor = Thread {
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                close(connection)
            }
        }
        acceptor.start()

        var files: [Int: String] = [:]
        defer { for file in files.values { try? FileManager.default.removeItem(atPath: file) } }
        for size in sizes {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-choice-\(getpid())-\(size).json").path
            try cluster(endpoints: size).write(toFile: file, atomically: false, encoding: .utf8)
            files[size] = file
        }
        var times: [Int: [Double]] = [:]
        for _ in 0..<rounds {
            for size in sizes {
                let applied = try node.run([binary, "apply", "--node-ip", "10.1.0.1", files[size]!])
                guard applied.status == 0 else {
                    Bench.log("endpoint choice: apply of \(size) endpoints failed: \(applied.stderr)")
                    return nil
                }
                let round = try node.inside { try Socket.connectTimes(to: clusterIP, port: port, count: connections) }
                times[size, default: []] += round
            }
        }
        return times.mapValues { $0.sorted()[$0.count / 2] }
    }

    /// "endpoint choice, first connection (median of 3 x 400): 10 endpoints 45.1 us; 1,000: 46.0 us (1.02x); ..."
    static func line(_ medians: [Int: Double], sizes: [Int], rounds: Int, connections: Int) -> String {
        guard let base = medians[sizes[0]] else { return "endpoint choice: failed" }
        return "endpoint choice, first connection (median of \(rounds) x \(connections)): "
            + sizes.map { size in
                let median = medians[size] ?? .nan
                let ratio = size == sizes[0] ? "" : String(format: " (%.2fx)", median / base)
                return "\(size) endpoints " + String(format: "%.1f us", median * 1e6) + ratio
            }.joined(separator: "; ")
    }
}

/// A socket call that failed, with errno's text.
struct SocketError: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}

/// The few socket calls the probe makes, on whatever namespace the calling thread is in.
enum Socket {
    /// Seconds each of `count` connects to `host`:`port` took (SYN out, SYN-ACK back).
    static func connectTimes(to host: String, port: UInt16, count: Int) throws -> [Double] {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        var times: [Double] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            // RST on close: no TIME_WAIT, so the client's ports never run out across rounds.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            let start = DispatchTime.now().uptimeNanoseconds
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            close(fd)
            guard connected == 0 else { throw SocketError(text: "connect to \(host):\(port): \(String(cString: strerror(errno)))") }
            times.append(elapsed)
        }
        return times
    }
}
