/// The cluster as `apply --follow` knows it now: the latest valid version of every
/// Service, EndpointSlice and Endpoints object, changed one `ObjectEvent` at a time.
///
/// Unlike `ClusterLoader`, which judges one complete snapshot, a stream is never
/// complete: a slice may arrive before its Service (it waits), and a newer version of
/// an object replaces the older one instead of being a duplicate. As in
/// `ClusterLoader`, `Endpoints` count only for Services without EndpointSlices.
public struct ClusterStore: Sendable {
    public private(set) var services: [ServiceID: Service] = [:]
    /// Keyed by the slice's own namespace/name.
    private var slices: [ServiceID: EndpointSlice] = [:]
    private var slicesOfService: [ServiceID: Set<ServiceID>] = [:]
    /// Converted `Endpoints`, keyed by Service.
    private var legacy: [ServiceID: [EndpointSlice]] = [:]
    /// `ServiceCIDR` objects' ranges, keyed by object name.
    private var serviceCIDRsByName: [String: [CIDR]] = [:]

    /// The ranges of every `ServiceCIDR` object, sorted, without duplicates.
    public var serviceCIDRs: [CIDR] { Set(serviceCIDRsByName.values.joined()).sorted() }

    public init() {}

    /// The slices lowering uses for a Service: its EndpointSlices, or else those
    /// converted from its Endpoints object.
    public func slices(of id: ServiceID) -> [EndpointSlice] {
        if let keys = slicesOfService[id], !keys.isEmpty { return keys.sorted().compactMap { slices[$0] } }
        return legacy[id] ?? []
    }

    /// Every Service with its slices, as `ClusterLoader` would give it.
    public var cluster: Cluster {
        var byService: [ServiceID: [EndpointSlice]] = [:]
        for id in services.keys {
            let list = slices(of: id)
            if !list.isEmpty { byService[id] = list }
        }
        return Cluster(services: Array(services.values), slices: byService, serviceCIDRs: serviceCIDRs)
    }

    /// Records one event; returns the Services whose rules may change (a slice can
    /// move from one Service to another; a `ServiceCIDR` changes no Service's rules, see
    /// `serviceCIDRs`). An invalid object changes nothing and throws.
    public mutating func apply(_ event: ObjectEvent) throws(ModelError) -> Set<ServiceID> {
        let raw = event.object.parsed
        switch (raw.kind, event.change) {
        case ("Service", .upsert):
            let service = try ServiceDecoder.decode(raw)
            services[service.id] = service
            return [service.id]
        case ("Service", .delete):
            let id = try identity(raw, nameRule: .dns1035Label)
            services[id] = nil
            return [id]
        case ("EndpointSlice", let change):
            let key = try identity(raw, nameRule: .dnsSubdomain)
            var touched: Set<ServiceID> = []
            if let old = slices.removeValue(forKey: key) {
                slicesOfService[old.service]?.remove(key)
                touched.insert(old.service)
            }
            if change == .upsert, let slice = try EndpointDecoder.decodeSlice(raw) {
                slices[key] = slice
                slicesOfService[slice.service, default: []].insert(key)
                touched.insert(slice.service)
            }
            return touched
        case ("Endpoints", .upsert):
            let (id, _, converted) = try EndpointDecoder.decodeEndpoints(raw)
            legacy[id] = converted
            return [id]
        case ("Endpoints", .delete):
            let id = try identity(raw, nameRule: .dnsSubdomain)
            legacy[id] = nil
            return [id]
        case ("ServiceCIDR", .upsert):
            let (name, cidrs) = try ServiceCIDRDecoder.decode(raw)
            serviceCIDRsByName[name] = cidrs
            return []
        case ("ServiceCIDR", .delete):
            let field = Field(value: raw.value, file: raw.file, path: raw.path, object: nil).child("metadata").child("name")
            serviceCIDRsByName[try field.string()] = nil
            return []
        default:
            return []
        }
    }

    /// Makes a complete list of one kind (`Service`, `EndpointSlice`, `Endpoints` or
    /// `ServiceCIDR`), as a
    /// fresh list from the API server gives it, what the store holds of that kind: objects
    /// missing from it are deleted, the rest recorded. An invalid object keeps its
    /// previous version (it is not deleted either); its error is returned with the rest.
    public mutating func replace(kind: String, with objects: [RawObject]) -> (touched: Set<ServiceID>, errors: [ModelError]) {
        var touched: Set<ServiceID> = []
        var errors: [ModelError] = []
        var listed: Set<ServiceID> = []
        for object in objects where object.kind == kind {
            let rule: ObjectIdentity.NameRule = kind == "Service" ? .dns1035Label : .dnsSubdomain
            if let id = try? identity(object, nameRule: rule) { listed.insert(id) }
            do {
                touched.formUnion(try apply(ObjectEvent(change: .upsert, object: object)))
            } catch {
                errors.append(error)
            }
        }
        if kind == "ServiceCIDR" {
            let names = Set(objects.compactMap { object -> String? in
                if case .string(let name)? = object.value["metadata"]?["name"] { name } else { nil }
            })
            for name in serviceCIDRsByName.keys where !names.contains(name) { serviceCIDRsByName[name] = nil }
            return (touched, errors)
        }
        let held: [ServiceID] =
            switch kind {
            case "Service": Array(services.keys)
            case "EndpointSlice": Array(slices.keys)
            case "Endpoints": Array(legacy.keys)
            default: []
            }
        for id in held where !listed.contains(id) {
            switch kind {
            case "Service": services[id] = nil
            case "EndpointSlice":
                if let old = slices.removeValue(forKey: id) {
                    slicesOfService[old.service]?.remove(id)
                    touched.insert(old.service)
                    continue
                }
            default: legacy[id] = nil
            }
            touched.insert(id)
        }
        return (touched, errors)
    }

    private func identity(_ raw: RawObject, nameRule: ObjectIdentity.NameRule) throws(ModelError) -> ServiceID {
        try ObjectIdentity.read(Field(value: raw.value, file: raw.file, path: raw.path, object: nil), nameRule: nameRule)
    }
}
