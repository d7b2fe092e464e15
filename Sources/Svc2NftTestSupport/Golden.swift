import Foundation

/// Compares text with a golden file. With `UPDATE_GOLDEN=1` it rewrites the file and
/// still reports a failure, so every re-record is looked at as a diff before it lands.
public enum Golden {
    public static var updating: Bool { ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" }

    /// nil when equal; else a message with the first differing line.
    public static func mismatch(actual: String, goldenPath: String) -> String? {
        let expected = try? String(contentsOfFile: goldenPath, encoding: .utf8)
        if expected == actual { return nil }
        if updating {
            try? actual.write(toFile: goldenPath, atomically: true, encoding: .utf8)
            return "re-recorded \(goldenPath); review the diff and run the tests again"
        }
        guard let expected else { return "missing golden file \(goldenPath) (run with UPDATE_GOLDEN=1 to record it)" }
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let line = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
        let want = line < e.count ? String(e[line]) : "<end of file>"
        let got = line < a.count ? String(a[line]) : "<end of file>"
        return "\(goldenPath):\(line + 1): expected\n  \(want)\nbut got\n  \(got)"
    }
}
