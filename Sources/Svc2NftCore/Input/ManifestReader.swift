import Foundation

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

    public init(file: String, path: String, value: Value) {
        self.file = file
        self.path = path
        kind = if case .string(let s)? = value["kind"] { s } else { "" }
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
        return RawObject(file: file, path: path, value: value)
    }
}

/// A file's bytes, read-only, kept alive for as long as objects still to be parsed from
/// them exist: a regular file is mapped (a 90 MB List is not copied), anything else copied.
public final class ManifestBytes: @unchecked Sendable {
    public let buffer: UnsafeBufferPointer<UInt8>
    private let mapped: Bool

    public init(_ bytes: [UInt8]) {
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = copy.initialize(from: bytes)
        buffer = UnsafeBufferPointer(copy)
        mapped = false
    }

    /// Maps a regular file read-only.
    public init(mapping file: String) throws(InputError) {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { throw .unreadable(file: file, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(file: file, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            self.buffer = UnsafeBufferPointer(start: nil, count: 0)
            mapped = false
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED else {
            throw .unreadable(file: file, reason: String(cString: strerror(errno)))
        }
        buffer = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: size)
        mapped = true
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: buffer.baseAddress), buffer.count)
        } else {
            buffer.deallocate()
        }
    }
}

/// Finds manifest files and splits them into objects: files or directories (recursive,
/// `*.json`, `*.yaml`, `*.yml`, in sorted order), `-` or no path for standard input;
/// `List` objects and multi-document YAML are flattened.
public enum ManifestReader {
    public static let stdinName = "<stdin>"

    /// Every object of every path, in path order, then file order, then document order.
    public static func read(paths: [String]) throws(InputError) -> [RawObject] {
        var objects: [RawObject] = []
        for file in try files(for: paths.isEmpty ? ["-"] : paths) {
            let bytes = try load(file)
            objects.append(contentsOf: try parse(bytes, file: file))
        }
        return objects
    }

    /// Expands directories into their manifest files, sorted by path.
    static func files(for paths: [String]) throws(InputError) -> [String] {
        var result: [String] = []
        let manager = FileManager.default
        for path in paths {
            if path == "-" {
                result.append(stdinName)
                continue
            }
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw .unreadable(file: path, reason: "no such file or directory")
            }
            if !isDirectory.boolValue {
                result.append(path)
                continue
            }
            guard let enumerator = manager.enumerator(atPath: path) else {
                throw .unreadable(file: path, reason: "cannot list directory")
            }
            var found: [String] = []
            while let relative = enumerator.nextObject() as? String {
                let lower = relative.lowercased()
                guard lower.hasSuffix(".json") || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") else { continue }
                let full = (path as NSString).appendingPathComponent(relative)
                var childIsDirectory: ObjCBool = false
                if manager.fileExists(atPath: full, isDirectory: &childIsDirectory), !childIsDirectory.boolValue {
                    found.append(full)
                }
            }
            result.append(contentsOf: found.sorted())
        }
        return result
    }

    private static func load(_ file: String) throws(InputError) -> ManifestBytes {
        if file == stdinName {
            return ManifestBytes([UInt8](FileHandle.standardInput.readDataToEndOfFile()))
        }
        return try ManifestBytes(mapping: file)
    }

    /// Parses one file's bytes: JSON when it starts with `{` or `[`, YAML otherwise.
    public static func parse(_ bytes: [UInt8], file: String) throws(InputError) -> [RawObject] {
        try parse(ManifestBytes(bytes), file: file)
    }

    public static func parse(_ text: ManifestBytes, file: String) throws(InputError) -> [RawObject] {
        let bytes = text.buffer
        let firstByte = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        var documents: [Value]
        if firstByte == UInt8(ascii: "{") || firstByte == UInt8(ascii: "[") {
            let outline = try JSONParser.parseDeferringItems(bytes, file: file)
            if let items = outline.items { return try listItems(items, of: text, file: file) }
            documents = [outline.document]
        } else {
            documents = try YAMLReader.documents(String(decoding: bytes, as: UTF8.self), file: file)
        }
        documents.removeAll { $0 == .null }
        var objects: [RawObject] = []
        for (number, document) in documents.enumerated() {
            let prefix = documents.count > 1 ? "doc[\(number)]" : ""
            try flatten(document, file: file, path: prefix, into: &objects)
        }
        return objects
    }

    /// The objects of a large List whose items were checked but not parsed: each stays
    /// text until decoded, except items that are not plain objects (nested Lists, or not
    /// objects at all), which are parsed and flattened now.
    static func listItems(_ items: [JSONParser.Outline.Item], of text: ManifestBytes, file: String) throws(InputError) -> [RawObject] {
        var objects: [RawObject] = []
        objects.reserveCapacity(items.count)
        for (number, item) in items.enumerated() {
            let path = "items[\(number)]"
            if item.isObject, !(item.kind ?? "").hasSuffix("List") {
                objects.append(RawObject(file: file, path: path, kind: item.kind ?? "", text: text, start: item.start))
            } else {
                try flatten(JSONParser.parseChecked(text.buffer, at: item.start), file: file, path: path, into: &objects)
            }
        }
        return objects
    }

    static func flatten(_ value: Value, file: String, path: String, into objects: inout [RawObject]) throws(InputError) {
        switch value {
        case .array(let items):
            for (number, item) in items.enumerated() {
                try flatten(item, file: file, path: "\(path)[\(number)]", into: &objects)
            }
        case .object:
            let kind = RawObject(file: file, path: path, value: value).kind
            if kind.hasSuffix("List"), case .array(let items)? = value["items"] {
                let prefix = path.isEmpty ? "items" : "\(path).items"
                for (number, item) in items.enumerated() {
                    try flatten(item, file: file, path: "\(prefix)[\(number)]", into: &objects)
                }
            } else {
                objects.append(RawObject(file: file, path: path, value: value))
            }
        default:
            throw .notAnObject(file: file, path: path, found: value.kindName)
        }
    }
}
