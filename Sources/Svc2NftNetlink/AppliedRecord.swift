import Foundation
import Svc2NftCore

/// The kernel's ruleset generation: it counts commits in a network namespace, anyone's,
/// so an unchanged generation means nothing changed any table since. `namespace` is the
/// network namespace's cookie (`SO_NETNS_COOKIE`, never reused, unlike its inode).
public struct RulesetGeneration: Sendable, Equatable {
    public let namespace: UInt64
    public let id: UInt32

    public init(namespace: UInt64, id: UInt32) {
        self.namespace = namespace
        self.id = id
    }

    /// Whether this generation follows `before` by exactly `commits` commits in the same
    /// namespace: ours, with no one else's in between.
    public func follows(_ before: RulesetGeneration, by commits: Int) -> Bool {
        namespace == before.namespace && id == before.id &+ UInt32(truncatingIfNeeded: commits)
    }
}

/// What the last apply left in the kernel, in a small file beside the node lock: the
/// generation right after its commit and the ruleset's `contentFingerprint`. An apply
/// that finds the same generation (nobody committed anything since) and computes the
/// same fingerprint knows the kernel holds its ruleset without reading it back: at
/// 10,000 Services that read (every chain's name and the dispatch maps' elements) is a
/// third of a second of a 1.1 s re-apply. Anything else reads the kernel as before.
public struct AppliedRecord: Sendable, Equatable {
    public let generation: RulesetGeneration
    public let fingerprint: String

    static let header = "svc2nft applied record 1"

    public init(generation: RulesetGeneration, fingerprint: String) {
        self.generation = generation
        self.fingerprint = fingerprint
    }

    /// The record at `path`; nil when there is none or it cannot be read.
    public static func load(_ path: String) -> AppliedRecord? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n")
        guard lines.count == 2, lines[0] == header else { return nil }
        let fields = lines[1].split(separator: " ")
        guard fields.count == 3, let namespace = UInt64(fields[0]), let id = UInt32(fields[1]) else { return nil }
        return AppliedRecord(generation: RulesetGeneration(namespace: namespace, id: id), fingerprint: String(fields[2]))
    }

    /// Writes the record (a failure only costs the next apply its shortcut).
    public func save(_ path: String) {
        let text = "\(Self.header)\n\(generation.namespace) \(generation.id) \(fingerprint)\n"
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
