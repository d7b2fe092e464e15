import Foundation

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

    /// Expands directories into their manifest files, sorted by path. In a directory, only
    /// regular files (or symlinks to them) count, so a FIFO named `*.yaml` cannot block the
    /// run; names starting with `..` are skipped, as in a mounted ConfigMap or Secret
    /// (kubelet's `..data` symlink and its `..2026_12_05...` target would list every
    /// object twice). A path given by name is read whatever it is (a pipe from `<(cmd)`).
    static func files(for paths: [String]) throws(InputError) -> [String] {
        var result: [String] = []
        let manager = FileManager.default
        for path in paths {
            if path == "-" {
                result.append(stdinName)
                continue
            }
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw .unreadable(file: path, reason: String(cString: strerror(errno)))
            }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                result.append(path)
                continue
            }
            guard let enumerator = manager.enumerator(atPath: path) else {
                throw .unreadable(file: path, reason: "cannot list directory")
            }
            var found: [String] = []
            while let relative = enumerator.nextObject() as? String {
                if relative.split(separator: "/").contains(where: { $0.hasPrefix("..") }) {
                    enumerator.skipDescendants()
                    continue
                }
                let lower = relative.lowercased()
                guard lower.hasSuffix(".json") || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") else { continue }
                let full = (path as NSString).appendingPathComponent(relative)
                var child = stat()
                if stat(full, &child) == 0, child.st_mode & S_IFMT == S_IFREG { found.append(full) }
            }
            result.append(contentsOf: found.sorted())
        }
        return result
    }

    private static func load(_ file: String) throws(InputError) -> ManifestBytes {
        if file == stdinName { return try ManifestBytes(descriptor: 0, name: stdinName) }
        return try ManifestBytes(reading: file)
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
            if let items = outline.items {
                return try listItems(items, of: text, file: file, itemKind: itemKind(of: outline.document))
            }
            documents = [outline.document]
        } else {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                let (line, column) = JSONParser.position(of: firstInvalidUTF8(bytes), in: bytes)
                throw .syntax(file: file, line: line, column: column, message: "invalid UTF-8")
            }
            documents = try YAMLReader.documents(text, file: file)
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
    static func listItems(
        _ items: [JSONParser.Outline.Item], of text: ManifestBytes, file: String, itemKind: String
    ) throws(InputError) -> [RawObject] {
        var objects: [RawObject] = []
        objects.reserveCapacity(items.count)
        for (number, item) in items.enumerated() {
            let path = "items[\(number)]"
            if item.isObject, !(item.kind ?? "").hasSuffix("List") {
                objects.append(RawObject(file: file, path: path, kind: item.kind ?? itemKind, text: text, start: item.start))
            } else {
                try flatten(JSONParser.parseChecked(text.buffer, at: item.start), file: file, path: path, into: &objects)
            }
        }
        return objects
    }

    /// The kind of a typed List's items: the API server's `ServiceList` (what
    /// `GET /api/v1/services` returns) leaves `kind` out of each item, so the list's kind
    /// names it. "" for `List` and other kinds, whose items must say what they are.
    static func itemKind(of list: Value) -> String {
        guard case .string(let kind)? = list["kind"], kind.hasSuffix("List") else { return "" }
        let item = String(kind.dropLast(4))
        return ["Service", "EndpointSlice", "Endpoints"].contains(item) ? item : ""
    }

    static func flatten(
        _ value: Value, file: String, path: String, kind itemKind: String = "", into objects: inout [RawObject]
    ) throws(InputError) {
        switch value {
        case .array(let items):
            for (number, item) in items.enumerated() {
                try flatten(item, file: file, path: "\(path)[\(number)]", into: &objects)
            }
        case .object:
            let object = RawObject(file: file, path: path, value: value, defaultKind: itemKind)
            if object.kind.hasSuffix("List"), case .array(let items)? = value["items"] {
                let prefix = path.isEmpty ? "items" : "\(path).items"
                let kind = Self.itemKind(of: value)
                for (number, item) in items.enumerated() {
                    try flatten(item, file: file, path: "\(prefix)[\(number)]", kind: kind, into: &objects)
                }
            } else {
                objects.append(object)
            }
        default:
            throw .notAnObject(file: file, path: path, found: value.kindName)
        }
    }

    /// The offset of the first byte that is not part of valid UTF-8.
    static func firstInvalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput, .error: return offset
            }
        }
    }
}
