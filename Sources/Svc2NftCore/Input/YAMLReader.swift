import Yams

/// Reads (multi-document) YAML into `Value` trees with Yams, so YAML manifests reach the
/// model in the same shape as JSON ones.
///
/// Aliases (`*name`) and merge keys (`<<`) are refused, naming the line: the API server's
/// JSON never has them, and expanding them let 457 bytes of nested aliases become 1.3 GB
/// of values. Yams hands an alias over as the anchored node itself, so an alias is
/// recognised by its position: nodes are converted in document order, and only an
/// alias's node starts before the node converted just before it (or where it started,
/// unless that was its parent).
enum YAMLReader {
    /// One `Value` per YAML document, empty documents skipped.
    static func documents(_ text: String, file: String) throws(InputError) -> [Value] {
        do {
            var values: [Value] = []
            // YamlSequence keeps a parse error in `error` and ends early instead of throwing.
            var sequence = try Yams.compose_all(yaml: text)
            var order = Order(budget: text.utf8.count + 16)
            while let node = sequence.next() {
                order.last = (0, 0)
                values.append(try convert(node, file: file, order: &order))
            }
            if let error = sequence.error { throw error }
            return values
        } catch let error as InputError {
            throw error
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw .unreadable(file: file, reason: "\(error)")
        }
    }

    private static func syntaxError(_ error: YamlError, file: String) -> InputError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let message = [context?.text, problem].compactMap { $0 }.joined(separator: ": ")
            return .syntax(file: file, line: mark.line, column: mark.column, message: message)
        default:
            return .syntax(file: file, line: 0, column: 0, message: "\(error)")
        }
    }

    /// Where the last node converted started (line, column), and whether it was a mapping
    /// or sequence: a block collection starts where its first child does.
    /// `budget`: nodes still allowed. Each node written out takes at least one byte, so a
    /// file converts to at most as many nodes as it has bytes; only an alias the order
    /// check cannot see (one repeating a collection of empty values right after it) could
    /// exceed that, and it stops here instead of growing with the square of the input.
    private struct Order {
        var last = (line: 0, column: 0)
        var lastOpened = false
        var budget: Int
    }

    private static func convert(_ node: Node, file: String, order: inout Order) throws(InputError) -> Value {
        let mark = node.mark
        order.budget -= 1
        guard order.budget >= 0 else {
            throw .syntax(
                file: file, line: mark?.line ?? 0, column: mark?.column ?? 0,
                message: "more values than the file has bytes: a YAML alias (*name)? aliases are not supported in manifests")
        }
        // An empty plain scalar (`key:` with no value) takes the position of the token
        // after it, which the next node shares: it neither moves nor checks the order.
        let isEmpty = if case .scalar(let scalar) = node { scalar.string.isEmpty && scalar.style == .plain } else { false }
        if let mark, !isEmpty {
            let here = (line: mark.line, column: mark.column)
            guard here > order.last || (here == order.last && order.lastOpened) else {
                throw .syntax(
                    file: file, line: order.last.line, column: order.last.column,
                    message:
                        "a YAML alias (*name) here repeats the node at line \(mark.line); aliases are not supported in manifests, write the value out"
                )
            }
            order.last = here
            order.lastOpened = if case .scalar = node { false } else { true }
        }
        switch node {
        case .scalar(let scalar):
            return scalarValue(scalar)
        case .sequence(let sequence):
            var items: [Value] = []
            for item in sequence { items.append(try convert(item, file: file, order: &order)) }
            return .array(items)
        case .mapping(let mapping):
            var fields = Fields()
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    let mark = key.mark
                    throw .syntax(
                        file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, message: "mapping keys must be plain scalars")
                }
                if keyScalar.string == "<<", keyScalar.style == .plain {
                    throw .syntax(
                        file: file, line: keyScalar.mark?.line ?? 0, column: keyScalar.mark?.column ?? 0,
                        message: "YAML merge keys (<<) are not supported in manifests; write the fields out")
                }
                _ = try convert(key, file: file, order: &order)  // keys take part in the order check
                fields.append(keyScalar.string, try convert(value, file: file, order: &order))
            }
            return .object(fields)
        case .alias:
            throw .syntax(
                file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0,
                message: "YAML aliases are not supported in manifests")
        }
    }

    /// Resolves a plain scalar with YAML 1.1 core rules as Kubernetes does (quoted
    /// scalars stay strings): null, booleans, integers and floats.
    private static func scalarValue(_ scalar: Node.Scalar) -> Value {
        if scalar.style != .plain { return .string(scalar.string) }
        let text = scalar.string
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let int = Int(text) { return .number(Double(int)) }
        if text.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true, let double = Double(text) {
            return .number(double)
        }
        return .string(text)
    }
}
