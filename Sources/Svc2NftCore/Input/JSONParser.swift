/// A strict RFC 8259 JSON parser over UTF-8 bytes that reports errors by line and
/// column. Written by hand because 40 MB `kubectl get -o json` dumps must parse in a
/// fraction of a second and Foundation's parser reports neither line nor column.
public struct JSONParser {
    /// The input, borrowed for the duration of `parse` (no reference counting per byte,
    /// which matters when items parse on several cores).
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    /// Parses one JSON document; throws `InputError.syntax` naming line and column.
    public static func parse(_ bytes: [UInt8], file: String) throws(InputError) -> Value {
        try bytes.withUnsafeBufferPointer { buffer throws(InputError) in try parse(buffer, file: file) }
    }

    /// `parse` over bytes the caller keeps alive for the call.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws(InputError) -> Value {
        try document(bytes, file: file) { parser in try parser.parseValue(depth: 0) }
    }

    /// Runs `body` with a parser at the document's first value, requires only whitespace
    /// after what it read, and turns a syntax failure into `InputError.syntax`.
    private static func document<T>(
        _ bytes: UnsafeBufferPointer<UInt8>, file: String, _ body: (inout JSONParser) throws -> T
    ) throws(InputError) -> T {
        do {
            var parser = JSONParser(bytes: bytes)
            parser.skipWhitespace()
            let value = try body(&parser)
            parser.skipWhitespace()
            if parser.index < bytes.count { throw parser.failure("unexpected text after the document") }
            return value
        } catch let failure as Failure {
            let (line, column) = position(of: failure.offset, in: bytes)
            throw .syntax(file: file, line: line, column: column, message: failure.message)
        } catch {
            fatalError("unreachable: \(error)")
        }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// A JSON document whose List items were checked but left unparsed (see
    /// `parseDeferringItems`).
    public struct Outline: Sendable {
        /// The document; when `items` is set, its `items` field is an empty placeholder.
        public let document: Value
        /// Where each item of the top-level `items` list starts, with its `kind`; nil when
        /// nothing was deferred.
        public let items: [Item]?

        /// One unparsed item: its first byte, whether it is an object, and its `kind`
        /// (the string value of its last `kind` field; nil when there is none).
        public struct Item: Sendable {
            public let start: Int
            public let isObject: Bool
            public let kind: String?
        }
    }

    /// Parses a document, except the items of a large top-level object's `items` list (a
    /// `kubectl get -o json` List): those are checked exactly as `parse` would check them,
    /// so every syntax error is reported here, and only their starts and kinds are kept.
    /// Each item is parsed later with `parseChecked`, on whichever core decodes it, and
    /// freed right after: the whole tree never exists at once. A small input, or a large
    /// one whose top-level object is not a List, parses in full.
    static func parseDeferringItems(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws(InputError) -> Outline {
        let firstByte = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        guard bytes.count > parallelThreshold, firstByte == UInt8(ascii: "{") else {
            return Outline(document: try parse(bytes, file: file), items: nil)
        }
        let outline = try document(bytes, file: file) { parser in
            var fields = Fields()
            var items: [Outline.Item]? = nil
            try parser.eachMember(keys: true) { parser, key in
                if key == "items", parser.bytes[parser.index] == UInt8(ascii: "[") {
                    items = try parser.outlineItems()
                    fields.append(key, .array([]))
                } else {
                    if key == "items" { items = nil }  // a later `items` wins, as in `parse`
                    if Self.isBookkeeping(key) {
                        try parser.skipValue(depth: 1)
                    } else {
                        fields.append(key, try parser.parseValue(depth: 1))
                    }
                }
            }
            return Outline(document: .object(fields), items: items)
        }
        guard outline.items != nil, case .string(let kind)? = outline.document["kind"], kind.hasSuffix("List") else {
            return Outline(document: try parse(bytes, file: file), items: nil)
        }
        return outline
    }

    /// At a List's `[`: checks every item and records its start and kind. A large list
    /// is checked in two halves on two cores: the second half starts at a guessed item
    /// boundary (`}, {` near the middle), and counts only if the first half, checking
    /// from the start, arrives exactly there; otherwise the first half goes on alone.
    /// Either way the first error in the document is the one reported.
    private mutating func outlineItems() throws -> [Outline.Item] {
        let column = firstItemColumn(after: index + 1)
        guard ProcessInfoLite.activeProcessorCount > 1, let guess = itemBoundary(near: index + (bytes.count - index) / 2, column: column)
        else {
            var items: [Outline.Item] = []
            try eachItem { parser in items.append(try parser.outlineItem()) }
            return items
        }
        let input = SharedInput(bytes: bytes)
        let open = index
        // Each half: its items, where it ended, and whether it stopped at the guess.
        let (first, second) = Parallel.pair { () -> Result<([Outline.Item], Int, Bool), any Error> in
            Result {
                var parser = JSONParser(bytes: input.bytes)
                parser.index = open
                var items: [Outline.Item] = []
                let stopped = try parser.eachItem(stoppingAt: guess) { parser in items.append(try parser.outlineItem()) }
                return (items, parser.index, stopped)
            }
        } _: { () -> Result<([Outline.Item], Int, Bool), any Error> in
            Result {
                var parser = JSONParser(bytes: input.bytes)
                parser.index = guess
                var items: [Outline.Item] = []
                try parser.eachItem(resuming: true) { parser in items.append(try parser.outlineItem()) }
                return (items, parser.index, false)
            }
        }
        let (items, end, stopped) = try first.get()
        guard stopped else {
            index = end
            return items
        }
        let (rest, restEnd, _) = try second.get()
        index = restEnd
        return items + rest
    }

    /// Checks one List item; its start, whether it is an object, and its `kind`.
    private mutating func outlineItem() throws -> Outline.Item {
        let start = index
        guard index < bytes.count, bytes[start] == UInt8(ascii: "{") else {
            try skipValue(depth: 2)
            return Outline.Item(start: start, isObject: false, kind: nil)
        }
        var kind: String? = nil
        try eachMember(keys: true) { parser, key in
            if key == "kind" {
                kind = nil
                if parser.bytes[parser.index] == UInt8(ascii: "\"") {
                    kind = try parser.parseString()
                } else {
                    try parser.skipValue(depth: 3)
                }
            } else {
                try parser.skipValue(depth: 3)
            }
        }
        return Outline.Item(start: start, isObject: true, kind: kind)
    }

    /// The column of the first item of a list whose items start at or after `start`, when
    /// the list is indented (one item per line, as `kubectl -o json` prints it); nil when
    /// it is not.
    private func firstItemColumn(after start: Int) -> Int? {
        var at = start
        while at < bytes.count, Self.isWhitespace(bytes[at]) { at += 1 }
        var column = 0
        while at - column - 1 >= start, bytes[at - column - 1] == 0x20 || bytes[at - column - 1] == 0x09 { column += 1 }
        return at - column - 1 >= start && bytes[at - column - 1] == 0x0A ? column : nil
    }

    /// A likely item start at or after `offset`, searched for in the next MiB: the `{`
    /// of a `}, {`, and in an indented list one that starts a line at the first item's
    /// `column` (nested objects are indented deeper). Only a guess: it may still lie in
    /// a nested list or inside a string.
    private func itemBoundary(near offset: Int, column: Int?) -> Int? {
        let limit = min(bytes.count, offset + (1 << 20))
        var at = offset
        while at < limit {
            if bytes[at] == UInt8(ascii: "}") {
                var next = at + 1
                while next < limit, Self.isWhitespace(bytes[next]) { next += 1 }
                if next < limit, bytes[next] == UInt8(ascii: ",") {
                    next += 1
                    var lineStart = next
                    while next < limit, Self.isWhitespace(bytes[next]) {
                        if bytes[next] == 0x0A { lineStart = next + 1 }
                        next += 1
                    }
                    let onItsLine = column.map { lineStart > at + 1 && next - lineStart == $0 } ?? true
                    if next < limit, bytes[next] == UInt8(ascii: "{"), onItsLine { return next }
                }
            }
            at += 1
        }
        return nil
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    /// The value at `start`, `depth` levels deep, of bytes already checked (a List item
    /// `parseDeferringItems` checked; an item `parseArrayInParallel` checked): it cannot
    /// fail unless the parser has a bug.
    static func parseChecked(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int = 2) -> Value {
        var parser = JSONParser(bytes: bytes)
        parser.index = start
        do {
            return try parser.parseValue(depth: depth)
        } catch {
            preconditionFailure("a value checked before failed to parse: \(error)")
        }
    }

    private struct Failure: Error {
        let offset: Int
        let message: String
    }

    private func failure(_ message: String) -> Failure { Failure(offset: index, message: message) }

    static func position(of offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09:
                index += 1
                // Indentation: `kubectl get -o json` indents by 4 spaces per level, so
                // spaces are 56% of a 90 MB List's bytes, and both the check and the
                // parse of each item skip them: eight at a time where there are eight.
                while index + 8 <= bytes.count,
                    UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self) == 0x2020_2020_2020_2020
                {
                    index += 8
                }
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws -> Value {
        guard depth < 512 else { throw failure("nesting deeper than 512 levels") }
        guard index < bytes.count else { throw failure("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("unexpected character '\(Self.printable(bytes[index]))'")
        }
    }

    private static func printable(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    private mutating func expectLiteral(_ literal: String) throws {
        let expected = Array(literal.utf8)
        let count = expected.count
        let matches = index + count <= bytes.count && (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        guard matches else { throw failure("invalid literal, expected '\(literal)'") }
        index += count
    }

    private mutating func parseObject(depth: Int) throws -> Value {
        var fields = Fields()
        try eachMember(keys: true) { parser, key in
            if Self.isBookkeeping(key) {
                try parser.skipValue(depth: depth + 1)
            } else {
                fields.append(key, try parser.parseValue(depth: depth + 1))
            }
        }
        return .object(fields)
    }

    /// The object grammar, once for parsing and skipping: at `{`, calls `member` with
    /// the parser at each value (which `member` must consume) and its key (empty when
    /// `keys` is false: names are then checked, not built).
    private mutating func eachMember(keys: Bool, _ member: (inout JSONParser, String) throws -> Void) throws {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a quoted field name") }
            var key = ""
            if keys { key = try parseString() } else { try skipString() }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':' after field name") }
            index += 1
            skipWhitespace()
            // `member` looks at the value's first byte: never hand it the end of input.
            guard index < bytes.count else { throw failure("unexpected end of input after ':'") }
            try member(&self, key)
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of input inside an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return
            } else {
                throw failure("expected ',' or '}' in an object")
            }
        }
    }

    /// The list grammar: at `[`, calls `item` with the parser at each item. `resuming`:
    /// starts at an item inside a list instead (the second half of a List's check). With
    /// `stop`, returns true and leaves the parser there when the next item would start
    /// at `stop`; otherwise returns false after the list's `]`.
    @discardableResult
    private mutating func eachItem(
        resuming: Bool = false, stoppingAt stop: Int? = nil, _ item: (inout JSONParser) throws -> Void
    ) throws -> Bool {
        if !resuming {
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return false
            }
        }
        while true {
            skipWhitespace()
            if index == stop { return true }
            try item(&self)
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of input inside a list") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return false
            } else {
                throw failure("expected ',' or ']' in a list")
            }
        }
    }

    /// Lists this far from the end of a large input (a `List`'s items) parse on all cores.
    public static let parallelThreshold = 1 << 20

    /// Checks the list and finds where each item starts (`skipValue`: no values built,
    /// and any syntax error is reported with its position here), then parses the items
    /// on all cores, each with its own parser over the same bytes.
    private mutating func parseArrayInParallel(depth: Int) throws -> Value {
        var starts: [Int] = []
        try eachItem { parser in
            starts.append(parser.index)
            try parser.skipValue(depth: depth + 1)
        }
        let input = SharedInput(bytes: bytes)
        return .array(starts.orderedParallelMap { start in Self.parseChecked(input.bytes, at: start, depth: depth + 1) })
    }

    /// Fields the API server keeps for its own bookkeeping, which nothing in svc2nft
    /// reads: they are checked as JSON but not kept, which saves a third of the values
    /// of a `kubectl get -o json` dump (each endpoint's `targetRef`, every object's
    /// `uid`, `creationTimestamp`, `managedFields`). `resourceVersion` (the API watch
    /// resumes from it) and `deletionTimestamp` (a Node being deleted) are read by `run`.
    static func isBookkeeping(_ key: String) -> Bool {
        switch key.utf8.count {
        case 3: key == "uid"
        case 8: key == "selfLink"
        case 9: key == "targetRef"
        case 10: key == "generation" || key == "finalizers"
        case 12: key == "generateName"
        case 13: key == "managedFields"
        case 15: key == "ownerReferences"
        case 17: key == "creationTimestamp"
        default: false
        }
    }

    /// Checks one value exactly as `parseValue` would, without building it.
    private mutating func skipValue(depth: Int) throws {
        guard depth < 512 else { throw failure("nesting deeper than 512 levels") }
        guard index < bytes.count else { throw failure("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try eachMember(keys: false) { parser, _ in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): try eachItem { parser in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): try skipString()
        default: _ = try parseValue(depth: depth)  // a scalar: nothing to save
        }
    }

    /// An ASCII string without escapes is scanned; any other is parsed, to check it.
    private mutating func skipString() throws {
        let start = index
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            }
            // Escapes and non-ASCII text are checked by parsing (UTF-8 must be valid).
            if byte == UInt8(ascii: "\\") || byte >= 0x80 { break }
            if byte < 0x20 { throw failure("control character inside a string") }
            index += 1
        }
        index = start
        _ = try parseString()
    }

    private mutating func parseArray(depth: Int) throws -> Value {
        if depth <= 1, bytes.count - index > Self.parallelThreshold, ProcessInfoLite.activeProcessorCount > 1 {
            return try parseArrayInParallel(depth: depth)
        }
        var items: [Value] = []
        try eachItem { parser in items.append(try parser.parseValue(depth: depth + 1)) }
        return .array(items)
    }

    private mutating func parseString() throws -> String {
        index += 1
        let start = index
        var ascii = true
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                if ascii {
                    let text = String(decoding: bytes[start..<index], as: UTF8.self)
                    index += 1
                    return text
                }
                guard let text = String(validating: bytes[start..<index], as: UTF8.self) else {
                    throw Failure(offset: start - 1, message: "invalid UTF-8 inside a string")
                }
                index += 1
                return text
            }
            if byte >= 0x80 { ascii = false }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("control character inside a string") }
            index += 1
        }
        var scalars = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                guard let text = String(validating: scalars, as: UTF8.self) else {
                    throw Failure(offset: start - 1, message: "invalid UTF-8 inside a string")
                }
                index += 1
                return text
            }
            if byte < 0x20 { throw failure("control character inside a string") }
            if byte != UInt8(ascii: "\\") {
                scalars.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append(0x22)
            case UInt8(ascii: "\\"): scalars.append(0x5C)
            case UInt8(ascii: "/"): scalars.append(0x2F)
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw failure("unpaired surrogate in \\u escape")
                    }
                    index += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("invalid surrogate pair") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw failure("invalid \\u escape") }
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                index -= 1
                throw failure("invalid escape '\\\(Self.printable(escape))'")
            }
        }
        throw failure("unterminated string")
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("short \\u escape") }
        var code: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("invalid hex digit in \\u escape")
            }
            code = code << 4 | digit
            index += 1
        }
        return code
    }

    private mutating func parseNumber() throws -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        var isInteger = true
        var integer: Int64 = 0
        var digits = 0
        guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("invalid number") }
        if bytes[index] == UInt8(ascii: "0"), index + 1 < bytes.count, Self.isDigit(bytes[index + 1]) {
            throw failure("leading zero in a number")
        }
        while index < bytes.count, Self.isDigit(bytes[index]) {
            // 18 digits always fit in Int64; longer numbers go through Double below.
            if digits < 18 { integer = integer * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
            digits += 1
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("digit expected after '.'") }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("digit expected in exponent") }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if isInteger, digits <= 18 {
            return Double(bytes[start] == UInt8(ascii: "-") ? -integer : integer)
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text) else { throw Failure(offset: start, message: "invalid number") }
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

/// The borrowed input, shared read-only by the parsers of one `parse` call.
private struct SharedInput: @unchecked Sendable {
    let bytes: UnsafeBufferPointer<UInt8>
}
