/// A parsed JSON or YAML document: the common tree both parsers produce, so the model
/// layer reads one shape whatever the file format was.
public enum Value: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([Value])
    case object(Fields)

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

/// An object's fields in document order. Kubernetes objects have a dozen fields at
/// most per level, so a linear search beats hashing every key of a 40 MB dump into a
/// dictionary (and takes a third of the memory). A repeated key: the last one wins,
/// as in JSON parsers generally.
public struct Fields: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    public private(set) var pairs: [(key: String, value: Value)]

    public init(_ pairs: [(key: String, value: Value)] = []) { self.pairs = pairs }

    public init(dictionaryLiteral elements: (String, Value)...) {
        pairs = elements.map { (key: $0.0, value: $0.1) }
    }

    public subscript(key: String) -> Value? {
        for pair in pairs.reversed() where pair.key == key { return pair.value }
        return nil
    }

    mutating func append(_ key: String, _ value: Value) { pairs.append((key: key, value: value)) }

    /// Equal when the same keys map to the same values, in any order.
    public static func == (a: Fields, b: Fields) -> Bool {
        let keys = Set(a.pairs.map(\.key))
        return keys == Set(b.pairs.map(\.key)) && keys.allSatisfy { a[$0] == b[$0] }
    }
}
