/// Where something in the input is: file, JSON path of the field, and the object
/// (`namespace/name`) it belongs to when that is known.
public struct Location: Hashable, Sendable, CustomStringConvertible {
    public let file: String
    public let path: String
    public let object: String?

    public init(file: String, path: String, object: String?) {
        self.file = file
        self.path = path
        self.object = object
    }

    /// The location of a field below this one.
    public func child(_ suffix: String) -> Location {
        Location(file: file, path: path.isEmpty ? suffix : "\(path).\(suffix)", object: object)
    }

    public var description: String {
        var text = "\(file): \(path.isEmpty ? "(document)" : path)"
        if let object { text += ": \(object)" }
        return text
    }
}

/// Why an object in a manifest is not a valid Service or endpoint list. Each message
/// reads well after `error: ` and says what to fix.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingField(Location)
    case wrongType(Location, expected: String, found: String)
    case invalidValue(Location, value: String, problem: String)
    case duplicateObject(Location, kind: String, firstSeen: Location)

    public var location: Location {
        switch self {
        case .missingField(let l), .wrongType(let l, _, _), .invalidValue(let l, _, _),
            .duplicateObject(let l, _, _):
            l
        }
    }

    public var description: String {
        switch self {
        case .missingField(let location):
            "\(location): required field is missing"
        case .wrongType(let location, let expected, let found):
            "\(location): expected \(expected), found \(found)"
        case .invalidValue(let location, let value, let problem):
            "\(location): \(Self.quote(value)) \(problem)"
        case .duplicateObject(let location, let kind, let first):
            "\(location): duplicate \(kind); first defined at \(first.file): \(first.path)"
        }
    }

    /// Shows user text safely on one line: control characters escaped, long text cut.
    static func quote(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(80) {
            if scalar == "\"" || scalar == "\\" {
                out += "\\\(scalar)"
            } else if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if value.unicodeScalars.count > 80 { out += "..." }
        return "\"\(out)\""
    }
}
