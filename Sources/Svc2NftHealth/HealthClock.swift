import Foundation

/// A moment as kube-proxy's health server sees it: wall time for the JSON body, and time
/// since the process started (Go's monotonic reading) for comparisons, so a wall clock
/// step cannot make the proxy look late or early.
public struct HealthInstant: Sendable, Equatable {
    /// Wall time, nanoseconds since 1970 (UTC).
    public let unixNanoseconds: Int64
    public let sinceStart: Duration

    public init(unixNanoseconds: Int64, sinceStart: Duration) {
        self.unixNanoseconds = unixNanoseconds
        self.sinceStart = sinceStart
    }

    /// Go's `time.Time.String()` of a `time.Now()` reading in UTC, which kube-proxy prints
    /// with `%q`: `2026-12-05 02:52:15.123456789 +0000 UTC m=+12.000000001` (fraction
    /// without trailing zeros, monotonic seconds with nine digits).
    public var goString: String {
        Self.goWallString(unixNanoseconds) + " m=+" + Self.monotonicText(sinceStart)
    }

    /// Go's zero `time.Time`, which kube-proxy prints as `lastUpdated` before any sync.
    public static let goZeroString = "0001-01-01 00:00:00 +0000 UTC"

    static func goWallString(_ unixNanoseconds: Int64) -> String {
        let seconds = unixNanoseconds.floorDiv(1_000_000_000)
        let nanos = unixNanoseconds - seconds * 1_000_000_000
        let days = seconds.floorDiv(86_400)
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        var text =
            "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2)) \(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if nanos != 0 {
            var fraction = pad(nanos, 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + " +0000 UTC"
    }

    static func monotonicText(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return "\(seconds).\(pad(attoseconds / 1_000_000_000, 9))"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z.floorDiv(146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}

/// Where health and metrics read the time; tests pass a clock they move by hand.
public struct HealthClock: Sendable {
    public let now: @Sendable () -> HealthInstant

    public init(now: @escaping @Sendable () -> HealthInstant) {
        self.now = now
    }

    /// The real clock: `CLOCK_REALTIME` for the wall, the continuous clock since first use
    /// for the monotonic part.
    public static let system: HealthClock = {
        let start = ContinuousClock.now
        return HealthClock {
            var spec = timespec()
            clock_gettime(CLOCK_REALTIME, &spec)
            return HealthInstant(
                unixNanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec), sinceStart: ContinuousClock.now - start)
        }
    }()

    /// Wall time in seconds since 1970, for Prometheus timestamps.
    public var unixSeconds: Double { Double(now().unixNanoseconds) / 1e9 }
}
