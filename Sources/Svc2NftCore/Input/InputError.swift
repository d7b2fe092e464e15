/// Why a manifest file could not be read or parsed. Raised before any object is
/// looked at; each case names the file and, for syntax errors, the line and column.
public enum InputError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case syntax(file: String, line: Int, column: Int, message: String)
    case notAnObject(file: String, path: String, found: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            "\(file): cannot read: \(reason)"
        case .syntax(let file, let line, let column, let message):
            "\(file):\(line):\(column): \(message)"
        case .notAnObject(let file, let path, let found):
            "\(file): \(path.isEmpty ? "document" : path): expected a Kubernetes object, found \(found)"
        }
    }
}
