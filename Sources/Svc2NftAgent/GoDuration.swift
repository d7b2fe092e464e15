/// Durations as kube-proxy's flags and configuration file write them (Go's
/// `time.ParseDuration`): `1s`, `500ms`, `1m30s`, `0`.
public enum GoDuration {
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var total = Duration.zero
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        let units: [(String, Duration)] = [
            // "ms" before "m": the first unit that matches is taken.
            ("ns", .nanoseconds(1)), ("us", .microseconds(1)), ("µs", .microseconds(1)), ("ms", .milliseconds(1)),
            ("s", .seconds(1)), ("m", .seconds(60)), ("h", .seconds(3600)),
        ]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else {
                return nil
            }
            rest = rest.dropFirst(unit.count)
            total += scale * value
        }
        return total
    }
}
