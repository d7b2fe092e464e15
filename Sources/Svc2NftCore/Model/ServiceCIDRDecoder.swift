/// Reads `networking.k8s.io/v1 ServiceCIDR` objects: the ranges the cluster allocates
/// ClusterIPs from (`spec.cidrs`, one per family). With them, as with `--service-cidr`,
/// traffic to an address inside a range that no Service holds is dropped.
enum ServiceCIDRDecoder {
    /// The object's name and its CIDRs; throws naming the field of a bad entry.
    static func decode(_ raw: RawObject) throws(ModelError) -> (name: String, cidrs: [CIDR]) {
        let root = Field(value: raw.value, file: raw.file, path: raw.path, object: nil)
        let nameField = root.child("metadata").child("name")
        let name = try nameField.string()
        guard KubernetesName.isDNSSubdomain(name) else { throw nameField.invalid(name, "is not a valid ServiceCIDR name") }
        let object = root.owned(by: "ServiceCIDR \(name)")
        let cidrs = try object.child("spec").child("cidrs").list()
        var result: [CIDR] = []
        for item in cidrs {
            result.append(try item.cidr())
        }
        return (name, result)
    }
}
