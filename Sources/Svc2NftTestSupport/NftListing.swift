/// Normalises `nft list` output for comparisons where creation order may differ: an
/// existing table keeps its chains in place and appends new ones, so after `apply` A
/// then B the blocks of a table can be in another order than a fresh B. Blocks are
/// sorted by their first line; their contents are compared as printed.
public enum NftListing {
    public static func normalized(_ listing: String) -> String {
        var out: [String] = []
        var blocks: [[Substring]] = []
        var current: [Substring] = []
        var header: [Substring] = []
        for line in listing.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("table ") {
                out += flush(header, &blocks, &current)
                header = [line]
            } else if line.hasPrefix("\t") && (line.hasPrefix("\tchain ") || line.hasPrefix("\tset ") || line.hasPrefix("\tmap ")) {
                if !current.isEmpty { blocks.append(current) }
                current = [line]
            } else if line == "}" {
                if !current.isEmpty { blocks.append(current) }
                current = []
                out += flush(header, &blocks, &current) + ["}"]
                header = []
            } else if line.isEmpty {
                continue
            } else if current.isEmpty {
                header.append(line)
            } else {
                current.append(line)
            }
        }
        return out.joined(separator: "\n")
    }

    private static func flush(_ header: [Substring], _ blocks: inout [[Substring]], _ current: inout [Substring]) -> [String] {
        defer { blocks = [] }
        return header.map(String.init) + blocks.sorted { $0[0] < $1[0] }.flatMap { $0.map(String.init) }
    }
}
