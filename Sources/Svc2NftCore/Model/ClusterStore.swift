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
        return Cluster(services: Array(services.values), slices: byService)
    }

    /// Records one event; returns the Services whose rules may change (a slice can
    /// move from one Service to another). An invalid object changes nothing and throws.
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
        default:
            return []
        }
    }

    private func identity(_ raw: RawObject, nameRule: ObjectIdentity.NameRule) throws(ModelError) -> ServiceID {
        try ObjectIdentity.read(Field(value: raw.value, file: raw.file, path: raw.path, object: nil), nameRule: nameRule)
    }
}
