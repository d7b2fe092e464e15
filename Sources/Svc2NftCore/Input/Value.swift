/// A parsed JSON or YAML document: the common tree both parsers produce, so the model
/// layer reads one shape whatever the file format was.
public indirect enum Value: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([Value])
    case object([String: Value])

    /// The field `key` of an object; nil for absent keys and for non-objects.
    public subscript(key: String) -> Value? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    /// A short name of this value's kind, for "expected X, found Y" messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}
