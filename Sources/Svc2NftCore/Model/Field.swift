import Foundation

/// One step of a JSON path, linked to its parent. Paths are only turned into text when
/// an error needs them, so reading a field costs no string building.
final class PathNode {
    let parent: PathNode?
    let key: String?
    let index: Int

    init(parent: PathNode?, key: String?, index: Int) {
        self.parent = parent
        self.key = key
        self.index = index
    }

    /// "spec.ports[0].port", after the object's own prefix ("items[3]").
    var text: String {
        var parts: [PathNode] = []
        var node: PathNode? = self
        while let current = node {
            parts.append(current)
            node = current.parent
        }
        var out = ""
        for part in parts.reversed() {
            if let key = part.key {
                out += out.isEmpty ? key : ".\(key)"
            } else {
                out += "[\(part.index)]"
            }
        }
        return out
    }
}

/// A cursor into an object's tree that knows its file, JSON path and owning object, so
/// every typed read can fail with a `ModelError` that names all three.
struct Field {
    let value: Value?
    let file: String
    let node: PathNode?
    let object: String?

    init(value: Value?, file: String, path: String, object: String?) {
        self.init(value: value, file: file, node: path.isEmpty ? nil : PathNode(parent: nil, key: path, index: 0), object: object)
    }

    init(value: Value?, file: String, node: PathNode?, object: String?) {
        self.value = value
        self.file = file
        self.node = node
        self.object = object
    }

    var path: String { node?.text ?? "" }
    var location: Location { Location(file: file, path: path, object: object) }
    var isPresent: Bool {
        guard let value else { return false }
        if case .null = value { return false }
        return true
    }

    func child(_ key: String) -> Field {
        Field(value: value?[key], file: file, node: PathNode(parent: node, key: key, index: 0), object: object)
    }

    func owned(by object: String) -> Field { Field(value: value, file: file, node: node, object: object) }

    func wrongType(_ expected: String) -> ModelError {
        .wrongType(location, expected: expected, found: value?.kindName ?? "nothing")
    }

    func invalid(_ text: String, _ problem: String) -> ModelError {
        .invalidValue(location, value: text, problem: problem)
    }

    /// The elements of a list; an absent or null field is an empty list.
    func list() throws(ModelError) -> [Field] {
        guard isPresent else { return [] }
        guard case .array(let items)? = value else { throw wrongType("a list") }
        return items.indices.map { Field(value: items[$0], file: file, node: PathNode(parent: node, key: nil, index: $0), object: object) }
    }

    func optionalString() throws(ModelError) -> String? {
        guard isPresent else { return nil }
        guard case .string(let text)? = value else { throw wrongType("a string") }
        return text
    }

    func string() throws(ModelError) -> String {
        guard let text = try optionalString() else { throw .missingField(location) }
        return text
    }

    func optionalBool() throws(ModelError) -> Bool? {
        guard isPresent else { return nil }
        guard case .bool(let flag)? = value else { throw wrongType("true or false") }
        return flag
    }

    func optionalInt() throws(ModelError) -> Int? {
        guard isPresent else { return nil }
        guard case .number(let number)? = value else { throw wrongType("an integer") }
        guard number.rounded() == number, abs(number) < 1e15 else { throw invalid(String(number), "is not an integer") }
        return Int(number)
    }

    /// A port number 1-65535.
    func port() throws(ModelError) -> UInt16 {
        guard let number = try optionalInt() else { throw .missingField(location) }
        guard (1...65535).contains(number) else { throw invalid(String(number), "is not a port (1-65535)") }
        return UInt16(number)
    }

    /// 0 when absent, else a port.
    func optionalPort() throws(ModelError) -> UInt16 {
        guard let number = try optionalInt(), number != 0 else { return 0 }
        return try port()
    }

    func address() throws(ModelError) -> IPAddress {
        let text = try string()
        guard let address = IPAddress(text) else { throw invalid(text, "is not an IP address") }
        return address
    }

    func cidr() throws(ModelError) -> CIDR {
        let text = try string().trimmingCharacters(in: .whitespaces)
        guard let cidr = CIDR(text) else { throw invalid(text, "is not a CIDR (such as 10.0.0.0/8)") }
        return cidr
    }

    func l4Protocol() throws(ModelError) -> L4Protocol {
        // Absent or "": the API server defaults the protocol to TCP.
        guard let text = try optionalString(), !text.isEmpty else { return .tcp }
        guard let proto = L4Protocol(kubernetes: text) else { throw invalid(text, "is not a protocol (TCP, UDP or SCTP)") }
        return proto
    }

    /// An optional port name: a DNS-1123 label, as the API server checks Service,
    /// Endpoints and EndpointSlice port names (`kubectl create service` names a port
    /// `80-8080`).
    func portName() throws(ModelError) -> String {
        let name = try optionalString() ?? ""
        guard name.isEmpty || KubernetesName.isDNSLabel(name) else {
            throw invalid(
                name, "is not a valid port name (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)")
        }
        return name
    }
}
