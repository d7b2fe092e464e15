import Svc2NftCore

/// Asks the kernel, before the first apply, whether it can run every `KernelFeature` the
/// ruleset needs: one batch creating a scratch table per family with each feature's
/// chains, sets and rules, sent **without** its end message, so the kernel checks every
/// message (loading modules on demand, as for a real apply) and then aborts the whole
/// transaction: nothing is created, nothing is notified. This is what `nft --check` does.
public struct KernelProbe: Sendable {
    /// The scratch table's name; it never exists outside the aborted transaction.
    public static let tableName = "svc2nft-probe"

    public let features: [TableFamily: [KernelFeature]]

    /// Probes `features` per family (by default everything the ruleset may use).
    public init(features: [TableFamily: [KernelFeature]] = [.ip: KernelFeature.needed(for: .ip), .ip6: KernelFeature.needed(for: .ip6)]) {
        self.features = features
    }

    /// The batch: per family the table, then each feature's chains, sets and rules, in
    /// the order a real install creates them. `owners` maps each chain and set name to
    /// its feature, so an error on any message names the feature.
    func batch() -> (FinalizedBatch, owners: [TableFamily: [String: KernelFeature]]) {
        var batch = Batch()
        var owners: [TableFamily: [String: KernelFeature]] = [:]
        for family in [TableFamily.ip, .ip6] {
            guard let features = features[family], !features.isEmpty else { continue }
            let target = Chain(name: KernelFeature.target)
            let table = Table(
                family: family, name: Self.tableName, comment: nil, sets: features.flatMap(\.sets),
                chains: [target] + features.flatMap(\.chains))
            for feature in features {
                for chain in feature.chains { owners[family, default: [:]][chain.name.text] = feature }
                for set in feature.sets { owners[family, default: [:]][set.name.text] = feature }
            }
            var tally = ChangeEncoder.Tally()
            ChangeEncoder.encode(.creating(table), handles: [:], into: &batch, tally: &tally)
        }
        return (batch.finalize(commit: false), owners)
    }

    /// Features the kernel refused, per family, first refusal of each feature only; empty
    /// when the kernel can run the ruleset.
    func missing(in errors: [NetlinkAck], of batch: FinalizedBatch, owners: [TableFamily: [String: KernelFeature]]) -> [MissingKernelFeature] {
        var missing: [MissingKernelFeature] = []
        for error in errors.sorted(by: { $0.sequence < $1.sequence }) {
            let found: (TableFamily, KernelFeature)?
            switch batch.objects[error.sequence] {
            case .chain(let family, let name, _), .rule(let family, let name, _, _):
                found = owners[family]?[name.text].map { (family, $0) }
            case .set(let family, let name, _), .elements(let family, let name):
                found = owners[family]?[name.text].map { (family, $0) }
            case .table(let family, _):
                found = (family, KernelFeature(name: "nf_tables", module: "nf_tables", config: "CONFIG_NF_TABLES", chains: []))
            case .batch, nil:
                found = nil
            }
            guard let (family, feature) = found else { continue }
            guard !missing.contains(where: { $0.family == family && $0.name == feature.name }) else { continue }
            missing.append(
                MissingKernelFeature(family: family, name: feature.name, module: feature.module, config: feature.config, errno: error.errno))
        }
        return missing
    }
}

extension Applier {
    /// Runs `probe`; throws `.missingKernelFeatures` naming each feature (and its module)
    /// the kernel refused. Changes nothing in the kernel either way.
    public func probe(_ probe: KernelProbe = KernelProbe()) throws(ApplyError) {
        let (batch, owners) = probe.batch()
        let errors = try transport.send(batch)
        if errors.contains(where: { $0.errno == 1 /* EPERM */ }) { throw .permissionDenied }
        let missing = probe.missing(in: errors, of: batch, owners: owners)
        if !missing.isEmpty { throw .missingKernelFeatures(missing) }
        if let first = errors.first { throw .kernelRejected(object: batch.objects[first.sequence] ?? .batch, errno: first.errno) }
    }
}
