/// One Kubernetes object as found in a file, before validation: its tree and where it
/// came from, so every later error can name the file and the JSON path.
public struct RawObject: Sendable {
    public let file: String
    /// JSON path prefix of the object inside its file: "", "items[3]", "doc[1]".
    public let path: String
    /// The object's `kind` ("" when it has none).
    public let kind: String
    private let source: Source

    /// A parsed tree, or an item of a large List still as text (see
    /// `JSONParser.parseDeferringItems`), parsed each time `value` is read.
    private enum Source: Sendable {
        case tree(Value)
        case text(ManifestBytes, start: Int)
    }

    /// `defaultKind`: the kind when the object has none (an item of a typed List).
    public init(file: String, path: String, value: Value, defaultKind: String = "") {
        self.file = file
        self.path = path
        kind = if case .string(let s)? = value["kind"] { s } else { defaultKind }
        source = .tree(value)
    }

    init(file: String, path: String, kind: String, text: ManifestBytes, start: Int) {
        self.file = file
        self.path = path
        self.kind = kind
        source = .text(text, start: start)
    }

    /// The object's tree (parsed now, if it was left as text).
    public var value: Value {
        switch source {
        case .tree(let value): value
        case .text(let text, let start): JSONParser.parseChecked(text.buffer, at: start)
        }
    }

    /// The same object with its tree parsed, for readers that look at it more than once.
    public var parsed: RawObject {
        if case .tree = source { return self }
        return RawObject(file: file, path: path, value: value, defaultKind: kind)
    }

    /// "namespace/name" (or "name") as the object says it, unvalidated: for logs and
    /// duplicate checks, never for rules.
    public var displayName: String {
        func text(_ value: Value?) -> String { if case .string(let s)? = value { s } else { "" } }
        let metadata = value["metadata"]
        let namespace = text(metadata?["namespace"])
        return namespace.isEmpty ? text(metadata?["name"]) : "\(namespace)/\(text(metadata?["name"]))"
    }
}
