import Foundation

/// A network namespace made for one test, with a unique name, deleted when the value
/// goes away (also when the test fails or throws).
public final class NetworkNamespace {
    public let name: String

    public init(_ label: String) throws {
        name = "s2n-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
        let result = try Command.run(Command.which("ip")!, ["netns", "add", name])
        guard result.status == 0 else { throw TestBedError(message: "ip netns add \(name): \(result.stderr)") }
    }

    /// Runs argv inside the namespace.
    public func run(_ argv: [String], environment: [String: String] = [:], in directory: URL? = nil) throws -> ProcessResult {
        var prefix = ["netns", "exec", name]
        if !environment.isEmpty {
            prefix += ["env"] + environment.map { "\($0.key)=\($0.value)" }
        }
        return try Command.run(Command.which("ip")!, prefix + argv, in: directory)
    }

    /// `nft list table FAMILY NAME`, or the error text when absent.
    public func listTable(_ family: String, _ table: String = "svc2nft") throws -> String {
        let result = try run(["nft", "list", "table", family, table])
        return result.status == 0 ? result.stdout : "absent: \(result.stderr)"
    }

    /// Both of our tables, as one string.
    public func listOurTables(_ table: String = "svc2nft") throws -> String {
        try listTable("ip", table) + listTable("ip6", table)
    }

    deinit {
        _ = try? Command.run(Command.which("ip")!, ["netns", "del", name])
    }
}
