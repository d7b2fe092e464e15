/// Builds validated `EndpointSlice`s from raw `discovery.k8s.io/v1 EndpointSlice` and
/// `v1 Endpoints` objects.
enum EndpointDecoder {
    static let serviceNameLabel = "kubernetes.io/service-name"

    /// nil for slices kube-proxy ignores: FQDN slices, and slices whose
    /// `kubernetes.io/service-name` label is absent or cannot name a Service (the API
    /// server accepts any label value there).
    static func decodeSlice(_ raw: RawObject) throws(ModelError) -> EndpointSlice? {
        let root = Field(value: raw.value, file: raw.file, path: raw.path, object: nil)
        let id = try ObjectIdentity.read(root, nameRule: .dnsSubdomain)
        let object = root.owned(by: id.description)
        let labelField = object.child("metadata").child("labels").child(serviceNameLabel)
        guard let serviceName = try labelField.optionalString() else { return nil }
        guard KubernetesName.isLabelValue(serviceName) else {
            throw labelField.invalid(serviceName, "is not a label value (at most 63 letters, digits, '-', '_', '.')")
        }
        guard KubernetesName.isDNS1035Label(serviceName) else { return nil }

        let typeField = object.child("addressType")
        let typeText = try typeField.string()
        let family: IPFamily
        switch typeText {
        case "IPv4": family = .v4
        case "IPv6": family = .v6
        case "FQDN": return nil
        default: throw typeField.invalid(typeText, "is not an addressType (IPv4, IPv6 or FQDN)")
        }

        var ports: [EndpointPort] = []
        for item in try object.child("ports").list() {
            guard item.child("port").isPresent else { continue }  // a nil port means "all ports": nothing to DNAT to
            ports.append(
                EndpointPort(
                    name: try item.child("name").portName(), protocol: try item.child("protocol").l4Protocol(),
                    port: try item.child("port").port()))
        }

        var endpoints: [Endpoint] = []
        for item in try object.child("endpoints").list() {
            let addresses = try item.child("addresses").list()
            guard let first = addresses.first else { throw .missingField(item.child("addresses").location) }
            let address = try first.address()
            guard address.family == family else {
                throw first.invalid(address.description, "is not an \(family.rawValue) address, as addressType says")
            }
            let conditions = item.child("conditions")
            let ready = try conditions.child("ready").optionalBool() ?? true
            let serving = try conditions.child("serving").optionalBool() ?? ready
            let terminating = try conditions.child("terminating").optionalBool() ?? false
            var zones: [String] = []
            for hint in try item.child("hints").child("forZones").list() {
                // The API server checks zone names as label values (discovery validateHints).
                let nameField = hint.child("name")
                let zone = try nameField.string()
                guard KubernetesName.isLabelValue(zone), !zone.isEmpty else {
                    throw nameField.invalid(zone, "is not a zone name (a label value: at most 63 letters, digits, '-', '_', '.')")
                }
                zones.append(zone)
            }
            endpoints.append(
                Endpoint(
                    address: address, ready: ready, serving: serving, terminating: terminating,
                    nodeName: try item.child("nodeName").optionalString(), zoneHints: zones))
        }
        return EndpointSlice(
            name: id.name, service: ServiceID(namespace: id.namespace, name: serviceName), family: family,
            ports: ports, endpoints: endpoints, source: object.location)
    }

    /// One slice per address family of each subset, with the object's identity and where
    /// its name is.
    static func decodeEndpoints(_ raw: RawObject) throws(ModelError) -> (ServiceID, Location, [EndpointSlice]) {
        let root = Field(value: raw.value, file: raw.file, path: raw.path, object: nil)
        // Any subdomain is a valid Endpoints name; one that is no Service name is an orphan.
        let id = try ObjectIdentity.read(root, nameRule: .dnsSubdomain)
        let object = root.owned(by: id.description)
        var slices: [EndpointSlice] = []
        for (number, subset) in try object.child("subsets").list().enumerated() {
            var ports: [EndpointPort] = []
            for item in try subset.child("ports").list() {
                ports.append(
                    EndpointPort(
                        name: try item.child("name").portName(), protocol: try item.child("protocol").l4Protocol(),
                        port: try item.child("port").port()))
            }
            var byFamily: [IPFamily: [Endpoint]] = [:]
            for (key, ready) in [("addresses", true), ("notReadyAddresses", false)] {
                for item in try subset.child(key).list() {
                    let address = try item.child("ip").address()
                    byFamily[address.family, default: []].append(
                        Endpoint(
                            address: address, ready: ready, serving: ready, terminating: false,
                            nodeName: try item.child("nodeName").optionalString(), zoneHints: []))
                }
            }
            for family in IPFamily.allCases {
                guard let endpoints = byFamily[family] else { continue }
                slices.append(
                    EndpointSlice(
                        name: "\(id.name)-subset\(number)", service: id, family: family, ports: ports,
                        endpoints: endpoints, source: subset.location))
            }
        }
        return (id, object.location, slices)
    }
}
