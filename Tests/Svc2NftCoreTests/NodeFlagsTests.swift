import Foundation
import Svc2NftCore
import Svc2NftTestSupport
import Testing

/// Node options as kube-proxy users write them: repeats and comma lists, `primary`, the
/// configuration file under the flags, Go durations, `--masquerade-all=false`.
@Suite struct NodeFlagsTests {
    @Test func commaListsAndRepeatsAreTheSame() throws {
        var repeated = NodeFlags()
        repeated.clusterCIDRs = ["10.244.0.0/16", "fd00:10:244::/56"]
        repeated.nodeIPs = ["192.168.1.10", "2001:db8::10"]
        var commas = NodeFlags()
        commas.clusterCIDRs = ["10.244.0.0/16, fd00:10:244::/56"]
        commas.nodeIPs = ["192.168.1.10,2001:db8::10"]
        #expect(try repeated.nodeConfig() == commas.nodeConfig())
        #expect(try commas.nodeConfig().clusterCIDRs.count == 2)
    }

    @Test func primaryMeansTheNodeAddresses() throws {
        var flags = NodeFlags()
        flags.nodePortAddresses = ["primary"]
        #expect(try flags.nodeConfig().nodePortAddresses.isEmpty)
        flags.nodePortAddresses = ["primary,10.0.0.0/8"]
        #expect(throws: UsageError("--nodeport-addresses: \"primary\" cannot be combined with CIDRs")) { try flags.nodeConfig() }
        flags.nodePortAddresses = ["10.0.0.0/8", "bogus"]
        #expect(throws: UsageError("--nodeport-addresses: \"bogus\" is not a CIDR (or primary)")) { try flags.nodeConfig() }
    }

    @Test func theConfigurationFileFillsWhatFlagsLeaveOpen() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-kpc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config.yaml").path
        try """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            mode: nftables
            clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
            nodePortAddresses: [192.168.0.0/16]
            hostnameOverride: node-a
            detectLocalMode: NodeCIDR
            clientConnection: {kubeconfig: /etc/kubernetes/proxy.conf, qps: 50}
            nftables: {masqueradeAll: true, syncPeriod: 45s, minSyncPeriod: 2s, masqueradeBit: 14}
            conntrack: {maxPerCore: 32768}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let file = try KubeProxyConfiguration.read(path)
        #expect(file.syncPeriod == "45s" && file.minSyncPeriod == "2s" && file.detectLocalMode == "NodeCIDR")
        #expect(file.kubeconfig == "/etc/kubernetes/proxy.conf")
        #expect(file.ignored == ["clientConnection.qps", "conntrack.maxPerCore", "nftables.masqueradeBit"])

        var flags = NodeFlags()
        flags.clusterCIDRs = ["10.0.0.0/8"]
        flags.masqueradeAll = false
        let config = try flags.filled(from: file).nodeConfig()
        #expect(config.clusterCIDRs.map(\.description) == ["10.0.0.0/8"], "a flag wins over the file")
        #expect(config.masqueradeAll == false, "--masquerade-all=false wins over the file")
        #expect(config.nodeName == "node-a")
        #expect(config.nodePortAddresses.map(\.description) == ["192.168.0.0/16"])
        #expect(try NodeFlags().filled(from: file).nodeConfig().masqueradeAll, "the file's nftables.masqueradeAll")

        try "kind: KubeProxyConfiguration\nmode: ipvs\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: KubeConfigFileError.self) { try KubeProxyConfiguration.read(path) }
    }

    @Test func goDurations() {
        #expect(GoDuration.parse("1s") == .seconds(1))
        #expect(GoDuration.parse("500ms") == .milliseconds(500))
        #expect(GoDuration.parse("1m30s") == .seconds(90))
        #expect(GoDuration.parse("0") == .zero)
        #expect(GoDuration.parse("1.5h") == .seconds(5400))
        for bad in ["", "1", "s", "1x", "-1s"] { #expect(GoDuration.parse(bad) == nil, "\(bad)") }
    }

    /// The binary takes Go's boolean forms: `--masquerade-all=true|false`.
    @Test func goBooleanFlags() throws {
        let input = Fixture.named("clusterip-basic")
        let plain = try Svc2NftBinary.run(["compile", input.path(input.inputs[0])])
        let on = try Svc2NftBinary.run(["compile", "--masquerade-all=true", input.path(input.inputs[0])])
        let off = try Svc2NftBinary.run(["compile", "--masquerade-all=false", input.path(input.inputs[0])])
        #expect(plain.status == 0 && on.status == 0 && off.status == 0, "\(on.stderr) \(off.stderr)")
        #expect(off.stdout == plain.stdout)
        #expect(on.stdout != plain.stdout)
        #expect(on.stdout.contains("masquerade-all"), "\(on.stdout)")
    }
}
