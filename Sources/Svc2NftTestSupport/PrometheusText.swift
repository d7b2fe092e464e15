/// Reads Prometheus text exposition format as `/metrics` serves it, for tests.
public enum PrometheusText {
    /// Lines that are neither a `# HELP`/`# TYPE` comment nor `name{labels} value`.
    public static func problems(_ text: String) -> [String] {
        let sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|[+-]Inf|NaN)$/
        let comment = /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$/
        return text.split(separator: "\n").map(String.init).filter { line in
            (try? sample.wholeMatch(in: line)) == nil && (try? comment.wholeMatch(in: line)) == nil
        }
    }

    /// The value of the sample `name` (with its labels, if any, as written), nil when absent.
    public static func value(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last!)
        }
        return nil
    }
}
