import Svc2NftCore
import Testing

/// Names are built and read back by `ChainIdentity` alone: what lowering names, the
/// kernel-state diff, `diff`, error messages and the rename pairing read the same way.
@Suite struct ChainIdentityTests {
    static let web = ServicePortName(service: ServiceID(namespace: "shop", name: "web"), protocolName: "tcp", port: "http")

    @Test func namesRoundTrip() throws {
        let endpoint = EndpointName(address: IPAddress("fd00:10:244::5")!, port: 8080)
        let built = ChainIdentity.unversionedName(.endpoint, portText: Self.web.text, endpoint: endpoint)
        #expect(built == "ep-shop/web/tcp/http__fd00.10.244..5/8080")
        let parsed = try #require(ChainIdentity(parsing: built + "_k3jd7x2a"))
        #expect(parsed.role == .endpoint && parsed.servicePort == Self.web && parsed.endpoint == endpoint)
        #expect(parsed.version?.text == "k3jd7x2a")
        #expect(parsed.unversioned == built && parsed.description == built + "_k3jd7x2a")
        #expect(parsed.owner == Owner(service: ServiceID(namespace: "shop", name: "web"), port: "http"))
        #expect(endpoint.readable == "[fd00:10:244::5]:8080")
        #expect(EndpointName(address: IPAddress("10.244.1.5")!, port: 80).readable == "10.244.1.5:80")
        #expect(Self.web.readable == "shop/web:http (tcp)")
    }

    /// A pick group of a large endpoint pick (`Versioning.policyChain`) belongs to its
    /// Service port, and its level and index read back.
    @Test func pickGroupsRoundTrip() throws {
        let policy = ChainIdentity.unversionedName(.service, portText: Self.web.text)
        let built = ChainIdentity.pickGroupName(policy: policy, .init(level: 2, index: 13))
        #expect(built == "svc-shop/web/tcp/http/pick2-13")
        let parsed = try #require(ChainIdentity(parsing: built + "_k3jd7x2a"))
        #expect(parsed.role == .service && parsed.servicePort == Self.web && parsed.endpoint == nil)
        #expect(parsed.pickGroup == ChainIdentity.PickGroup(level: 2, index: 13))
        #expect(parsed.unversioned == built)
        #expect(ChainIdentity(parsing: policy)?.pickGroup == nil)
        #expect(ChainIdentity(parsing: "svc-shop/web/tcp/http/other") == nil)
    }

    /// One idea of a version: `_` and 8 characters of the fingerprint's base32 alphabet.
    @Test func onlyAFingerprintIsAVersion() {
        #expect(ChainIdentity.Version.split("services_zf6j62qb").base == "services")
        #expect(ChainIdentity.Version.split("svc-a/b/tcp/http_k3jd7x2a").version?.text == "k3jd7x2a")
        #expect(ChainIdentity.Version.split("svc-a/b/tcp/port_8080").version == nil, "not 8 characters")
        #expect(ChainIdentity.Version.split("svc-a/b/tcp/http_k3jd9x1a").version == nil, "1 is not base32")
        #expect(ChainIdentity.Version.split("svc-a/b/tcp/http_K3JD9X2A").version == nil)
        #expect(ChainName("svc-a/b/tcp/http_k3jd7x2a").unversioned == "svc-a/b/tcp/http")
    }

    @Test func fixedAndForeignNames() {
        #expect(ChainIdentity(parsing: "nat-prerouting")?.kind == .fixed("nat-prerouting"))
        #expect(ChainIdentity(parsing: "services_zf6j62qb")?.kind == .fixed("services"))
        #expect(ChainIdentity(parsing: "svc-only/three/parts") == nil, "a Service port has four parts")
        #expect(ChainIdentity(parsing: "my chain") == nil)
    }

    /// The rename pairing: same identity and same comment; otherwise added and removed.
    @Test func pairingNeedsTheSameIdentityAndComment() {
        let old = Chain(name: ChainName("svc-shop/web/tcp/http_aaaaaaaa"), comment: "shop/web:http")
        let new = Chain(name: ChainName("svc-shop/web/tcp/http_bbbbbbbb"), comment: "shop/web:http")
        let other = Chain(name: ChainName("ext-shop/web/tcp/http_cccccccc"), comment: "shop/web:http external")
        let paired = ChainPairing.pair(leaving: [old], arriving: [new, other])
        #expect(paired.renamed == [RenamedChain(old: old, new: new)] && paired.added == [other] && paired.removed.isEmpty)
        let recommented = Chain(name: new.name, comment: "something else")
        let unpaired = ChainPairing.pair(leaving: [old], arriving: [recommented])
        #expect(unpaired.renamed.isEmpty && unpaired.added == [recommented] && unpaired.removed == [old])
    }
}
