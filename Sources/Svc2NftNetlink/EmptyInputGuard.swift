import Svc2NftCore

extension Applier {
    /// Whether any of these tables holds a Service's chain. `apply` of an input with no
    /// Services (an empty file, a directory without manifests, a failed `kubectl` in a
    /// pipe) would remove every Service's rules from the node: it asks this first.
    public func holdsServices(_ tables: [(TableFamily, String)]) throws(ApplyError) -> Bool {
        try kernelState(of: tables).values.contains { state in
            state.chains.keys.contains { ChainIdentity(parsing: $0)?.role == .service }
        }
    }
}
