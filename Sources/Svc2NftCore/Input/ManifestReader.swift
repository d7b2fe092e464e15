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
            let object = RawObject(file: file, path: path, value: value)
            if object.kind.hasSuffix("List"), case .array(let items)? = value["items"] {
                let prefix = path.isEmpty ? "items" : "\(path).items"
                for (number, item) in items.enumerated() {
                    try flatten(item, file: file, path: "\(prefix)[\(number)]", into: &objects)
                }
            } else {
                objects.append(object)
            }
        default:
            throw .notAnObject(file: file, path: path, found: value.kindName)
        }
    }
}
