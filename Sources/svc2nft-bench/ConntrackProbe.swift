import Foundation
import Svc2NftCore
import Svc2NftNetlink

/// The conntrack cleanup's cost: N UDP Services (the generator's cluster with every port
/// UDP) and E conntrack entries created in a scratch namespace, one in ten stale (its
/// reply source no endpoint), the rest live DNATs to serving endpoints. Times the
/// frontend map (`ServiceBackends`), the cleanup (one dump, the stale ones deleted), and
/// a second cleanup that finds nothing (what a quiet sync costs).
enum ConntrackProbe {
    /// Runs `inner` in a scratch namespace (conntrack tables are per namespace) and
    /// returns its one line.
    static func run(services: Int, entries: Int) -> String {
        let binary = CommandLine.arguments[0]
        return Bench.inNamespace { ns in
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-bench-conntrack-\(getpid())").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let result = Spawn.run(["ip", "netns", "exec", ns, binary, "conntrack-inner", "\(services)", "\(entries)"], stdout: out)
            let line = (try? String(contentsOfFile: out, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return result.ok ? line : "failed (\(result.status)) \(line)"
        }
    }

    /// In the namespace: build the cluster, fill the table, clean it twice.
    static func inner(services: Int, entries: Int) throws {
        let text = Generator(services: services, endpoints: 10).generate().replacingOccurrences(
            of: "\"protocol\": \"TCP\"", with: "\"protocol\": \"UDP\"")
        let objects = try ManifestReader.parse(Array(text.utf8), file: "generated.json")
        let (cluster, _) = try ClusterLoader.load(objects, keepGoing: false)
        let node = NodeConfig(nodeName: "node-0", nodeIPs: [IPAddress("10.0.0.1")!], clusterCIDRs: [CIDR("10.128.0.0/9")!])
        var start = DispatchTime.now().uptimeNanoseconds
        let backends = ServiceBackends(cluster: cluster, node: node)
        let mapSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let frontends = backends.frontends.map { ($0.key, $0.value.sorted()) }.sorted { $0.0.address < $1.0.address }
        let table = try ConntrackTable()
        var stale = 0
        start = DispatchTime.now().uptimeNanoseconds
        for j in 0..<entries {
            let (frontend, serving) = frontends[j % frontends.count]
            let isStale = j % 10 == 0
            if isStale { stale += 1 }
            let client = IPAddress(v4: 0x0AC8_0000 | UInt32(j / 50_000) << 8 | UInt32(j % 250))  // 10.200.x.y
            let entry = ConntrackEntry(
                protocolNumber: L4Protocol.udp.number, source: client, sourcePort: UInt16(10_000 + (j / 250) % 50_000),
                destination: frontend.address, destinationPort: frontend.port,
                replySource: isStale ? IPAddress(v4: 0x0AFF_0000 | UInt32(j % 65_536)) : serving[j % serving.count],
                replySourcePort: 5353)
            try table.create(entry)
        }
        // As many TCP entries besides (a node's table is mostly TCP): the kernel filters
        // them out of the dump; the cleanup must not read or touch them.
        for j in 0..<entries {
            let (frontend, serving) = frontends[j % frontends.count]
            let client = IPAddress(v4: 0x0AC9_0000 | UInt32(j / 50_000) << 8 | UInt32(j % 250))  // 10.201.x.y
            try table.create(
                ConntrackEntry(
                    protocolNumber: L4Protocol.tcp.number, source: client, sourcePort: UInt16(10_000 + (j / 250) % 50_000),
                    destination: frontend.address, destinationPort: frontend.port,
                    replySource: IPAddress(v4: 0x0AFF_0000 | UInt32(j % 65_536)),
                    replySourcePort: 8080))
            _ = serving
        }
        let fillSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let first = ConntrackCleanup.run(backends)
        let second = ConntrackCleanup.run(backends)
        print(
            String(
                format:
                    "conntrack cleanup, %d UDP Services (%d frontends), %d UDP entries (%d stale) and as many TCP (filled in %.1f s): frontend map %.1f ms; cleanup %.0f ms (read %d, removed %d, %d failures); again with nothing stale %.0f ms (read %d, removed %d)",
                services, backends.frontends.count, entries, stale, fillSeconds, mapSeconds * 1000, first.seconds * 1000, first.read,
                first.removed, first.failures, second.seconds * 1000, second.read, second.removed))
        if let error = first.error ?? second.error { print("error: \(error)") }
    }
}
