import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// Stale conntrack entries, with real datagrams (`testbed.py stale`). Four UDP clients
/// (one over IPv6 to dns/stale's IPv6 ClusterIP, E1 and E2 having IPv6 twins) each send
/// from one fixed source port every 50 ms, so each keeps one conntrack entry, while
/// `svc2nft apply` runs three times:
///
/// 1. dns/stale has endpoint E1 (10.244.1.10); dns/late does not exist yet, so its
///    ClusterIP's datagrams leave the node un-NATed (a listener outside answers).
/// 2. dns/stale gets E2 too: the clients pinned to E1 stay there (a live entry is never
///    deleted); dns/late exists without endpoints: its entry stays (as kube-proxy).
/// 3. E1 leaves dns/stale; dns/late gets E3: the first datagram after the apply, to the
///    ClusterIP from a pod and to the NodePort from outside, reaches E2; dns/late's
///    client reaches E3. A TCP connection to E1 opened in step 1 keeps working
///    throughout: the cleanup never touches TCP.
///
/// Without the cleanup (checked once by disabling it) step 3 fails: both clients keep
/// reaching E1, and dns/late's client keeps reaching the outside listener.
@Suite struct ConntrackKernelTests {
    static let stale = """
        apiVersion: v1
        kind: Service
        metadata: {namespace: dns, name: stale}
        spec:
          type: NodePort
          clusterIP: 10.96.5.1
          clusterIPs: [10.96.5.1, "fd00:10:96::5:1"]
          ipFamilies: [IPv4, IPv6]
          ports:
            - {name: dns, protocol: UDP, port: 53, targetPort: 5353, nodePort: 30053}
            - {name: http, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30080}

        """

    static let late = """
        apiVersion: v1
        kind: Service
        metadata: {namespace: dns, name: late}
        spec:
          clusterIP: 10.96.6.1
          ports: [{name: dns, protocol: UDP, port: 53, targetPort: 5353}]

        """

    static func slice(_ service: String, _ addresses: [String], v6: Bool = false) -> String {
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {namespace: dns, name: \(service)-\(v6 ? 6 : 4), labels: {kubernetes.io/service-name: \(service)}}
        addressType: \(v6 ? "IPv6" : "IPv4")
        ports: [{name: dns, protocol: UDP, port: 5353}, {name: http, protocol: TCP, port: 8080}]
        endpoints: [\(addresses.map { "{addresses: [\"\($0)\"]}" }.joined(separator: ", "))]

        """
    }

    /// `apply` loads each step; `follow` starts `apply --follow` with step 1's file and
    /// writes the later steps' objects to its standard input, each step waiting for the
    /// sync's `conntrack:` line.
    @Test(arguments: ["apply", "follow"])
    func staleUDPEntriesAreDeletedAfterApply(_ mode: String) throws {
        if ApplyKernelTests.skip("conntrack cleanup (\(mode))") { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-conntrack-\(getpid())-\(mode)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let e1 = "10.244.1.10", e2 = "10.244.1.11", e3 = "10.244.1.12"
        let e1v6 = "fd00:10:244:1::10", e2v6 = "fd00:10:244:1::11"
        let inputs = [
            Self.stale + "---\n" + Self.slice("stale", [e1]) + "---\n" + Self.slice("stale", [e1v6], v6: true),
            Self.stale + "---\n" + Self.slice("stale", [e1, e2]) + "---\n" + Self.slice("stale", [e1v6, e2v6], v6: true)
                + "---\n" + Self.late,
            Self.stale + "---\n" + Self.slice("stale", [e2]) + "---\n" + Self.slice("stale", [e2v6], v6: true) + "---\n"
                + Self.late + "---\n" + Self.slice("late", [e3]),
        ]
        let pod = "10.244.3.50:40000", outside = "192.168.50.5:40001", latePod = "10.244.3.52:40002"
        let pod6 = "fd00:10:244:3::50:40003"
        let expectations: [[String: [String]]] = [
            [:],
            [pod: ["\(e1):5353"], outside: ["\(e1):5353"], latePod: ["10.96.6.1:53"], pod6: ["[\(e1v6)]:5353"]],
            [pod: ["\(e2):5353"], outside: ["\(e2):5353"], latePod: ["\(e3):5353"], pod6: ["[\(e2v6)]:5353"]],
        ]
        var phases: [String] = []
        for (index, input) in inputs.enumerated() {
            let file = directory.appendingPathComponent("phase-\(index).yaml")
            try input.write(to: file, atomically: true, encoding: .utf8)
            let options = [
                "--node-ip", "10.0.0.1", "--node-ip", "fd00:10::1", "--cluster-cidr", "10.244.0.0/16", "--cluster-cidr", "fd00:10:244::/48",
            ]
            var loader = [Svc2NftBinary.path, "apply"] + options + [file.path]
            if mode == "follow" {
                let fifo = directory.appendingPathComponent("events").path, log = directory.appendingPathComponent("follow.log").path
                // Wait (at most 10 s) until the follower has logged its (index+1)th cleanup.
                let wait =
                    "for i in $(seq 1000); do [ \"$(grep -c '^conntrack:' '\(log)')\" -ge \(index + 1) ] && exit 0; sleep 0.01; done; cat '\(log)' >&2; exit 1"
                if index == 0 {
                    let follower = ([Svc2NftBinary.path, "apply", "--follow", "--sync-delay", "50"] + options + [file.path])
                        .map { "'\($0)'" }.joined(separator: " ")
                    loader = [
                        "sh", "-c",
                        "mkfifo '\(fifo)'; (sleep 600 > '\(fifo)' &) </dev/null >/dev/null 2>&1; "
                            + "(\(follower) < '\(fifo)' > /dev/null 2> '\(log)' &) </dev/null >/dev/null 2>&1; \(wait)",
                    ]
                } else {
                    let objects = try ManifestReader.parse(Array(input.utf8), file: "phase-\(index).yaml")
                    let json = directory.appendingPathComponent("phase-\(index).json")
                    try objects.map { JSONText.render($0.value) }.joined(separator: "\n").write(to: json, atomically: true, encoding: .utf8)
                    loader = ["sh", "-c", "cat '\(json.path)' > '\(fifo)'; \(wait)"]
                }
            }
            let phase: [String: Any] = ["name": "apply \(index + 1)", "loader": loader, "expect": expectations[index]]
            phases.append(String(decoding: try JSONSerialization.data(withJSONObject: phase), as: UTF8.self))
        }
        var arguments = [TestBed.script, "stale"]
        for phase in phases { arguments += ["--phase", phase] }
        arguments += [
            "--udp-client", "10.244.3.50,40000,10.96.5.1,53", "--udp-client", "192.168.50.5,40001,10.0.0.1,30053",
            "--udp-client", "10.244.3.52,40002,10.96.6.1,53", "--udp-client", "fd00:10:244:3::50,40003,fd00:10:96::5:1,53",
            "--tcp-hold", "10.244.3.51,10.96.5.1,80", "--udp-endpoint", "[\(e1v6)]:5353", "--udp-endpoint", "[\(e2v6)]:5353",
            "--udp-endpoint", "\(e1):5353", "--udp-endpoint", "\(e2):5353", "--udp-endpoint", "\(e3):5353",
            "--udp-endpoint", "10.96.6.1:53", "--outside-listener", "10.96.6.1",
            "--tcp-endpoint", "\(e1):8080", "--tcp-endpoint", "\(e2):8080",
        ]
        let result = try Command.run(Command.which("python3")!, arguments)
        #expect(result.status == 0, "\(result.stderr)")
        struct Report: Decodable {
            struct Phase: Decodable {
                struct Client: Decodable {
                    let client: String
                    let first: String?
                    let reached: [String]
                }
                let name: String
                let clients: [Client]
            }
            let problems: [String]
            let phases: [Phase]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        #expect(report.problems.isEmpty, "\(report.problems.joined(separator: "\n"))")
        #expect(report.phases.count == 3)
        for phase in report.phases {
            print(
                "conntrack cleanup (\(mode)), \(phase.name): "
                    + phase.clients.map { "\($0.client) first \($0.first ?? "-") \($0.reached)" }.joined(separator: "; "))
        }
    }
}
