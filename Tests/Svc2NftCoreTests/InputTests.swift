import Svc2NftCore
import Svc2NftTestSupport
import Testing

@Suite struct JSONParserTests {
    /// A large List's items parse on all cores: same values, same error positions.
    @Test func largeListsParseInParallelWithTheSamePositions() throws {
        let item = #"{"kind": "Service", "metadata": {"name": "s", "uid": "u"}, "spec": {"ports": [{"port": 80}]}}"#
        let count = 2 * JSONParser.parallelThreshold / item.utf8.count
        let text = "{\"items\": [\n" + Array(repeating: item, count: count).joined(separator: ",\n") + "\n], \"kind\": \"List\"}"
        let value = try JSONParser.parse(Array(text.utf8), file: "big")
        guard case .array(let items)? = value["items"] else { Issue.record("no items"); return }
        #expect(items.count == count)
        #expect(items.allSatisfy { $0 == items[0] } && items[0]["metadata"] == .object(["name": .string("s")]))
        var broken = Array(text.utf8)
        let line = count / 2 + 2
        let offset = text.utf8.count / 2
        let at = broken[offset...].firstIndex(of: UInt8(ascii: "8"))!  // a port, "80" becomes "8x"
        broken[at + 1] = UInt8(ascii: "x")
        #expect(
            throws: InputError.syntax(file: "big", line: line, column: item.utf8.count - 4, message: "expected ',' or '}' in an object")
        ) {
            try JSONParser.parse(broken, file: "big")
        }
    }

    /// A large List's items are checked at once but parsed when decoded: the same objects,
    /// paths and kinds as a full parse, nested Lists flattened, and syntax errors still
    /// reported by line and column before anything is decoded.
    @Test func largeListItemsStayTextUntilDecoded() throws {
        let item = #"{"kind": "Service", "metadata": {"name": "s", "uid": "u"}, "spec": {"ports": [{"port": 80}]}, "kind": "Service"}"#
        let nested = #"{"kind": "ServiceList", "items": [{"kind": "Endpoints", "metadata": {"name": "e"}}]}"#
        let count = 2 * JSONParser.parallelThreshold / item.utf8.count
        let items = Array(repeating: item, count: count) + [nested, #"{"metadata": {}, "kind": 7}"#]
        let text = "{\"items\": [\n" + items.joined(separator: ",\n") + "\n], \"kind\": \"List\"}"
        let objects = try ManifestReader.parse(Array(text.utf8), file: "big")
        #expect(objects.count == count + 2)
        #expect(objects[0].path == "items[0]" && objects[0].kind == "Service")
        #expect(objects[0].value == (try JSONParser.parse(Array(item.utf8), file: "item")))
        #expect(objects[count].path == "items[\(count)].items[0]" && objects[count].kind == "Endpoints")
        #expect(objects[count + 1].kind == "" && objects[count + 1].value["kind"] == .number(7))
        #expect(objects[count + 1].parsed.value == objects[count + 1].value)

        var broken = Array(text.utf8)
        broken[broken.lastIndex(of: UInt8(ascii: "7"))!] = UInt8(ascii: "x")
        #expect(throws: InputError.syntax(file: "big", line: count + 3, column: 26, message: "unexpected character 'x'")) {
            try ManifestReader.parse(broken, file: "big")
        }
        // An error in the first half of the list wins over one in the second (the halves
        // are checked on two cores).
        broken[broken.firstIndex(of: UInt8(ascii: "8"))!] = UInt8(ascii: "y")
        #expect(throws: InputError.syntax(file: "big", line: 2, column: 88, message: "unexpected character 'y'")) {
            try ManifestReader.parse(broken, file: "big")
        }
        // The second half starts at a guessed item boundary; a guess inside a string
        // (here: the middle of the list is one long annotation full of "}, {") is noticed.
        let trap =
            #"{"kind": "Service", "metadata": {"name": "t", "annotations": {"a": ""#
            + String(repeating: "}, {", count: JSONParser.parallelThreshold) + #""}}}"#
        let trapped = "{\"items\": [" + ([item, trap, item]).joined(separator: ",\n") + "], \"kind\": \"List\"}"
        let three = try ManifestReader.parse(Array(trapped.utf8), file: "trap")
        #expect(three.map(\.path) == ["items[0]", "items[1]", "items[2]"] && three.allSatisfy { $0.kind == "Service" })
        // ... or in a nested list of objects, indented like items or not.
        for separator in [", ", ",\n    "] {
            let endpoints = Array(repeating: #"{"addresses": ["10.0.0.1"]}"#, count: JSONParser.parallelThreshold / 20)
            let slice = #"{"kind": "EndpointSlice", "endpoints": ["# + endpoints.joined(separator: separator) + "]}"
            let nested = "{\"items\": [\n    " + [item, slice, item].joined(separator: ",\n    ") + "\n], \"kind\": \"List\"}"
            let objects = try ManifestReader.parse(Array(nested.utf8), file: "nested")
            #expect(objects.map(\.kind) == ["Service", "EndpointSlice", "Service"])
        }

        let notAList = text.replacingOccurrences(of: #""kind": "List"}"#, with: #""kind": "Bag"}"#)
        let whole = try ManifestReader.parse(Array(notAList.utf8), file: "big")
        #expect(whole.count == 1 && whole[0].kind == "Bag")
        guard case .array(let parsed)? = whole[0].value["items"] else { Issue.record("items not parsed"); return }
        #expect(parsed.count == count + 2)
    }

    /// The API server's bookkeeping fields are checked but not kept; everything else is
    /// (`resourceVersion` too: `run` resumes its watches from it).
    @Test func bookkeepingFieldsAreCheckedButNotKept() throws {
        let text =
            #"{"metadata": {"uid": "x", "name": "web", "resourceVersion": "7", "managedFields": [{"a": [1, {"b": null}]}]},"#
            + #" "endpoints": [{"targetRef": {"kind": "Pod", "name": "p\u00e9"}, "addresses": ["10.0.0.1"]}]}"#
        let value = try JSONParser.parse(Array(text.utf8), file: "f")
        #expect(value["metadata"] == .object(["name": .string("web"), "resourceVersion": .string("7")]))
        #expect(value["endpoints"] == .array([.object(["addresses": .array([.string("10.0.0.1")])])]))
        for broken in [
            #"{"uid": "a\qb"}"#, #"{"targetRef": {"kind" "Pod"}}"#, #"{"uid": tru}"#, #"{"managedFields": [1,]}"#, #"{"uid": "\ud800"}"#,
        ] {
            #expect(throws: InputError.self, "\(broken)") { try JSONParser.parse(Array(broken.utf8), file: "f") }
        }
        #expect(throws: InputError.syntax(file: "f", line: 2, column: 25, message: "expected ',' or ']' in a list")) {
            try JSONParser.parse(Array("{\"a\": 1,\n \"managedFields\": [1, 2 3]}".utf8), file: "f")
        }
    }

    @Test func parsesNestedValues() throws {
        let value = try JSONParser.parse(Array(#"{"a": [1, -2.5, "x\u00e9\n", true, null], "b": {}}"#.utf8), file: "f")
        #expect(value["a"] == .array([.number(1), .number(-2.5), .string("xé\n"), .bool(true), .null]))
        #expect(value["b"] == .object([:]))
    }

    @Test(arguments: [
        ("{\n  \"a\": 1,\n  \"b\": }", 3, 8),
        ("{\"a\": tru}", 1, 7),
        ("[1, 2", 1, 6),
        ("{\"a\": 01}", 1, 7),
        ("{} x", 1, 4),
    ])
    func reportsLineAndColumn(_ text: String, _ line: Int, _ column: Int) {
        #expect(throws: InputError.self) { try JSONParser.parse(Array(text.utf8), file: "f.json") }
        do {
            _ = try JSONParser.parse(Array(text.utf8), file: "f.json")
        } catch {
            guard case .syntax(let file, let l, let c, _) = error else {
                Issue.record("not a syntax error: \(error)")
                return
            }
            #expect(file == "f.json")
            #expect((l, c) == (line, column))
        }
    }
}

/// The hand-written parser must fail cleanly, never crash, on damaged input.
@Suite struct JSONRobustnessTests {
    static let document = Array(
        #"{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Service", "metadata": {"name": "a\u00e9\n", "namespace": "b"}, "spec": {"ports": [{"port": 80, "x": [1.5e3, -2, true, false, null, {}]}]}}]}"#
            .utf8)

    @Test func everyTruncationIsASyntaxErrorWithAPosition() {
        for length in 0..<Self.document.count {
            do {
                _ = try JSONParser.parse(Array(Self.document[..<length]), file: "t.json")
                Issue.record("a document cut at \(length) bytes parsed")
            } catch {
                guard case .syntax(_, let line, let column, _) = error else {
                    Issue.record("cut at \(length): \(error)")
                    continue
                }
                #expect(line == 1 && column >= 1)
            }
        }
    }

    /// A large List goes the fast way (items checked in two halves on two cores, parsed
    /// when decoded); corrupted anywhere, it must give exactly what a plain parse gives:
    /// the same first error at the same place, or the same objects.
    @Test func largeListsCorruptedAnywhereMatchAPlainParse() throws {
        let slice = #"{"kind": "EndpointSlice", "metadata": {"name": "s"}, "endpoints": [{"addresses": ["10.0.0.1"]}, {"x": "}, {"}]}"#
        let service = #"{"kind": "Service", "metadata": {"name": "a\u00e9"}, "spec": {"ports": [{"port": 80}]}}"#
        let items = Array(
            repeating: [service, slice], count: 6 * JSONParser.parallelThreshold / 5 / (service.utf8.count + slice.utf8.count)
        )
        .joined()
        var generator = SeededGenerator(seed: 11)
        let junk: [UInt8] = Array(#"{}[]",:\u x"#.utf8) + [0x0A, 0xFF, 0x00]
        // Indented as kubectl prints it, and compact (where the half-way guess can land
        // inside an item).
        for (round, indent) in zip(0..<16, [String](repeating: "\n        ", count: 8) + [String](repeating: " ", count: 8)) {
            let text = Array(
                ("{\"apiVersion\": \"v1\", \"items\": [" + indent + items.joined(separator: "," + indent) + "], \"kind\": \"List\"}").utf8)
            var bytes = text
            if round % 8 > 0 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = junk.randomElement(using: &generator)! }
            let plain: Result<[Value], InputError> = Result { () throws(InputError) in
                let document = try JSONParser.parse(bytes, file: "big")
                guard case .array(let items)? = document["items"], document["kind"] == .string("List") else { return [document] }
                return items
            }
            let fast: Result<[Value], InputError> = Result { () throws(InputError) in
                try ManifestReader.parse(bytes, file: "big").map(\.value)
            }
            switch (plain, fast) {
            case (.success(let a), .success(let b)): #expect(a == b, "round \(round)")
            case (.failure(let a), .failure(let b)): #expect(a == b, "round \(round)")
            default: Issue.record("round \(round): plain \(plain), fast \(fast)")
            }
        }
    }

    @Test func corruptedBytesNeverCrash() {
        var generator = SeededGenerator(seed: 7)
        let junk: [UInt8] = Array(#"{}[]",:\u x9e-"#.utf8) + [0x09, 0x0A, 0xFF, 0xC3, 0x00]
        for _ in 0..<2000 {
            var bytes = Self.document
            for _ in 0..<3 {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = junk.randomElement(using: &generator)!
            }
            _ = try? JSONParser.parse(bytes, file: "t.json")  // must return or throw, nothing else
        }
    }
}

@Suite struct AddressTests {
    @Test(arguments: [
        ("fd00:10:96::10", "fd00:10:96::10"), ("FD00:0:0:0:0:0:0:1", "fd00::1"), ("::", "::"), ("::1", "::1"),
        ("1:0:0:1:0:0:0:1", "1:0:0:1::1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("::ffff:10.0.0.1", "::ffff:a00:1"), ("10.96.0.1", "10.96.0.1"),
    ])
    func canonicalForm(_ text: String, _ canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: ["10.0.0.256", "10.0.0", "010.0.0.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "", "::g", "10.0.0.1 "])
    func rejectsInvalid(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func cidrMasksHostBitsAndContains() throws {
        let cidr = try #require(CIDR("10.1.2.3/8"))
        #expect(cidr.description == "10.0.0.0/8")
        #expect(cidr.contains(IPAddress("10.255.0.1")!))
        #expect(!cidr.contains(IPAddress("11.0.0.1")!))
        #expect(cidr.lastAddress == IPAddress("10.255.255.255"))
        let v6 = try #require(CIDR("fd00:10:244:1::5/64"))
        #expect(v6.description == "fd00:10:244:1::/64")
        #expect(v6.lastAddress == IPAddress("fd00:10:244:1:ffff:ffff:ffff:ffff"))
        #expect(CIDR("10.0.0.0/33") == nil)
    }
}

@Suite struct NameTests {
    @Test func longNamesAreHashedDeterministically() {
        let long = "ep-" + String(repeating: "a", count: 300)
        let name = ChainName(long)
        #expect(name.text.utf8.count == NftIdentifier.maxLength)
        #expect(name == ChainName(long))
        #expect(name != ChainName(long + "b"))
        #expect(NftIdentifier.isIdentifier(name.text))
    }

    @Test(arguments: ["a b", "x\"y", "x;y", "x{y", "-x", "", "x\ny", "x@y"])
    func identifiersRefuseNftSyntax(_ text: String) {
        #expect(!NftIdentifier.isIdentifier(text))
    }

    @Test func commentsCannotEscapeTheirQuotes() {
        let comment = Comment("a\" ; flush ruleset ; \\ \n x")
        #expect(!comment.text.contains("\""))
        #expect(!comment.text.contains("\\"))
        #expect(!comment.text.contains("\n"))
    }

    @Test func kubernetesNames() {
        #expect(KubernetesName.isDNSLabel("kube-system"))
        #expect(!KubernetesName.isDNSLabel("Kube"))
        #expect(!KubernetesName.isDNSLabel("a_b"))
        #expect(KubernetesName.isPortName("http-2"))
        #expect(!KubernetesName.isPortName("80"))
        #expect(!KubernetesName.isPortName("a--b"))
    }
}
