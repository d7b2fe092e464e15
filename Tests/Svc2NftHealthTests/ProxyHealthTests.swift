import NIOConcurrencyHelpers
import Svc2NftCore
import Testing

@testable import Svc2NftHealth

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let time = NIOLockedValueBox<Duration>(.zero)
    /// 2023-11-14 22:13:20 UTC.
    static let wallStart: Int64 = 1_700_000_000_000_000_000

    func advance(_ by: Duration) { time.withLockedValue { $0 += by } }

    var clock: HealthClock {
        HealthClock { [self] in
            let since = time.withLockedValue { $0 }
            let nanos = since.components.seconds * 1_000_000_000 + since.components.attoseconds / 1_000_000_000
            return HealthInstant(unixNanoseconds: Self.wallStart + nanos, sinceStart: since)
        }
    }
}

/// kube-proxy's ProxyHealthServer state machine (proxy_health.go), with an injected clock.
@Suite struct ProxyHealthTests {
    let manual = ManualClock()
    var health: ProxyHealth { ProxyHealth(timeout: .seconds(60), clock: manual.clock) }

    @Test func healthyWhileStartingEvenWithChangesQueuedLongAgo() {
        let health = self.health
        health.queuedUpdate()
        manual.advance(.seconds(600))
        #expect(health.status().healthy, "kube-proxy: the proxier is healthy while it's starting up")
    }

    @Test func unhealthyOnceAChangeWaitsTheTimeoutAndHealthyAfterASync() {
        let health = self.health
        health.updated()
        manual.advance(.seconds(5))
        health.queuedUpdate()
        manual.advance(.seconds(30))
        health.queuedUpdate()  // only the oldest pending change counts
        manual.advance(.seconds(29))
        #expect(health.status().healthy)
        manual.advance(.seconds(1))
        let late = health.status()
        #expect(!late.healthy, "60 s after the first queued change, kube-proxy's >= timeout")
        #expect(late.lastUpdated?.sinceStart == .seconds(0))
        health.updated()
        #expect(health.status().healthy)
    }

    @Test func repeatedFailedSyncsTurnUnhealthyEvenWhileStarting() {
        let health = self.health
        for _ in 1..<ProxyHealth.failureLimit { health.syncFailed() }
        #expect(health.status().healthy, "fewer than \(ProxyHealth.failureLimit) failures in a row")
        health.syncFailed()
        #expect(!health.status().healthy, "a kernel refusing every sync must not look healthy")
        #expect(HealthResponses.healthz(health.status()).status == 503)
        health.updated()
        #expect(health.status().healthy, "one successful sync clears it")
        health.syncFailed()
        #expect(health.status().healthy, "the count starts again after a success")
        manual.advance(.seconds(60))
        #expect(!health.status().healthy, "what a failed sync left pending counts like a queued change")
    }

    @Test func anIneligibleNodeFailsHealthzButNotLivez() {
        let health = self.health
        health.setNodeEligible(false)
        let status = health.status()
        #expect(HealthResponses.healthz(status).status == 503, "/healthz reports the node as not eligible")
        #expect(HealthResponses.livez(status).status == 200, "/livez ignores the node")
        #expect(health.isHealthy, "Service health checks use the proxier's health alone")
        health.setNodeEligible(true)
        #expect(HealthResponses.healthz(health.status()).status == 200)
    }

    @Test func goTimeStrings() {
        #expect(HealthInstant.goWallString(0) == "1970-01-01 00:00:00 +0000 UTC")
        #expect(HealthInstant.goWallString(1_700_000_000_123_000_000) == "2023-11-14 22:13:20.123 +0000 UTC")
        #expect(HealthInstant.goWallString(951_782_400_000_000_001) == "2000-02-29 00:00:00.000000001 +0000 UTC")
        #expect(
            HealthInstant(unixNanoseconds: 1_700_000_000_500_000_000, sinceStart: .milliseconds(54_285)).goString
                == "2023-11-14 22:13:20.5 +0000 UTC m=+54.285000000")
    }

    @Test func healthzAndLivezBodiesAsKubeProxyPrintsThem() {
        let health = self.health
        var reply = HealthResponses.healthz(health.status())
        #expect(reply.status == 200)
        #expect(reply.headers == ["Content-Type": "application/json", "X-Content-Type-Options": "nosniff"])
        #expect(
            reply.body
                == #"{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000","currentTime": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000", "nodeEligible": true}"#
        )
        health.updated()
        manual.advance(.seconds(1))
        health.queuedUpdate()
        manual.advance(.seconds(61))
        reply = HealthResponses.healthz(health.status())
        #expect(reply.status == 503)
        #expect(
            reply.body
                == #"{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000","currentTime": "2023-11-14 22:14:22 +0000 UTC m=+62.000000000", "nodeEligible": true}"#,
            "unhealthy: lastUpdated is the last successful sync")
        reply = HealthResponses.livez(health.status())
        #expect(reply.status == 503)
        #expect(
            reply.body
                == #"{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000","currentTime": "2023-11-14 22:14:22 +0000 UTC m=+62.000000000"}"#
        )
    }

    @Test func unhealthyBeforeAnySyncShowsGoZeroTime() {
        let health = self.health
        health.setNodeEligible(false)
        let reply = HealthResponses.healthz(health.status())
        #expect(reply.status == 503)
        #expect(reply.body.hasPrefix(#"{"lastUpdated": "0001-01-01 00:00:00 +0000 UTC","currentTime": "#))
        #expect(reply.body.hasSuffix(#", "nodeEligible": false}"#))
    }

    @Test func serviceHealthBodyIsKubeProxysDedentedTemplate() {
        let id = ServiceID(namespace: "web", name: "app")
        let up = HealthResponses.service(id, localEndpoints: 2, proxyHealthy: true)
        #expect(up.status == 200)
        #expect(up.headers == ["Content-Type": "application/json", "X-Content-Type-Options": "nosniff"])
        #expect(
            up.body
                == "{\n\t\"service\": {\n\t\t\"namespace\": \"web\",\n\t\t\"name\": \"app\"\n\t},\n\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}"
        )
        #expect(HealthResponses.service(id, localEndpoints: 0, proxyHealthy: true).status == 503)
        let late = HealthResponses.service(id, localEndpoints: 3, proxyHealthy: false)
        #expect(late.status == 503)
        #expect(late.body.contains("\"serviceProxyHealthy\": false"))
    }

    @Test func bindAddresses() throws {
        #expect(try BindAddress("", defaultPort: 1, flag: "--x") == .disabled)
        #expect(try BindAddress("0", defaultPort: 1, flag: "--x") == .disabled)
        #expect(try BindAddress("0.0.0.0:10256", defaultPort: 1, flag: "--x") == .address(host: "0.0.0.0", port: 10256))
        #expect(try BindAddress("[::]:10256", defaultPort: 1, flag: "--x") == .address(host: "::", port: 10256))
        #expect(try BindAddress("[fd00::1]:9", defaultPort: 1, flag: "--x").description == "[fd00::1]:9")
        #expect(try BindAddress("127.0.0.1", defaultPort: 10249, flag: "--x") == .address(host: "127.0.0.1", port: 10249))
        #expect(try BindAddress("::", defaultPort: 10256, flag: "--x") == .address(host: "::", port: 10256))
        for bad in ["10256", ":10256", "::1:10256", "1.2.3.4:0", "1.2.3.4:70000", "[::1]", "[::1]10256", "localhost:10256", "1.2.3.4:port"]
        {
            #expect(throws: BindAddressError(flag: "--x", text: bad)) { try BindAddress(bad, defaultPort: 1, flag: "--x") }
        }
        #expect(
            BindAddressError(flag: "--metrics-bind-address", text: "x").description
                == "--metrics-bind-address: \"x\" is not an IP address and port (such as 0.0.0.0:10256 or [::]:10256; \"\" or 0 disables)")
    }
}
