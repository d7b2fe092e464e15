/// One change to one object, as a watch reports it: the object's new version, or its
/// removal. A plain object (not wrapped in an event) counts as added or modified.
public struct ObjectEvent: Sendable {
    public enum Change: Sendable, Equatable {
        case upsert
        case delete
    }

    public let change: Change
    public let object: RawObject

    public init(change: Change, object: RawObject) {
        self.change = change
        self.object = object
    }
}

/// Splits a stream of concatenated JSON documents, as `kubectl get --watch -o json`
/// prints them, into documents as their bytes arrive, and each document into
/// `ObjectEvent`s. A document is an object, a `List`, or a watch event
/// (`{"type": "ADDED" | "MODIFIED" | "DELETED", "object": {…}}`, from
/// `--output-watch-events`).
public struct DocumentStream {
    public let file: String
    private var buffer: [UInt8] = []
    /// Scan state over `buffer[start..<scanned]`.
    private var start: Int? = nil
    private var scanned = 0
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var documents = 0

    public init(file: String) {
        self.file = file
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Whether bytes of an unfinished document are waiting.
    public var hasPartialDocument: Bool { start != nil }

    /// The events of the next complete document, or nil until one is complete. Throws
    /// for a document that is not JSON or not an object; the stream goes on after it.
    public mutating func next() throws(InputError) -> [ObjectEvent]? {
        while scanned < buffer.count {
            let byte = buffer[scanned]
            scanned += 1
            if start == nil {
                switch byte {
                case 0x20, 0x09, 0x0A, 0x0D: continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    start = scanned - 1
                    depth = 1
                    continue
                default:
                    // Skip the whole stray token, so it is reported once.
                    while scanned < buffer.count, ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "{"), UInt8(ascii: "[")].contains(buffer[scanned])
                    {
                        scanned += 1
                    }
                    buffer.removeFirst(scanned)
                    scanned = 0
                    documents += 1
                    throw .notAnObject(file: file, path: "doc[\(documents - 1)]", found: "'\(Character(Unicode.Scalar(byte)))'")
                }
            }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    let document = Array(buffer[start!..<scanned])
                    buffer.removeFirst(scanned)
                    scanned = 0
                    start = nil
                    documents += 1
                    return try Self.events(document, file: file, number: documents - 1)
                }
            default: break
            }
        }
        return nil
    }

    static func events(_ document: [UInt8], file: String, number: Int) throws(InputError) -> [ObjectEvent] {
        let value = try JSONParser.parse(document, file: file)
        let prefix = "doc[\(number)]"
        if value["kind"] == nil, case .string(let type)? = value["type"], let object = value["object"] {
            let change: ObjectEvent.Change
            switch type {
            case "ADDED", "MODIFIED": change = .upsert
            case "DELETED": change = .delete
            default: return []  // BOOKMARK, ERROR: nothing to apply
            }
            var objects: [RawObject] = []
            try ManifestReader.flatten(object, file: file, path: "\(prefix).object", into: &objects)
            return objects.map { ObjectEvent(change: change, object: $0) }
        }
        var objects: [RawObject] = []
        try ManifestReader.flatten(value, file: file, path: prefix, into: &objects)
        return objects.map { ObjectEvent(change: .upsert, object: $0) }
    }
}
