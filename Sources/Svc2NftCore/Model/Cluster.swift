/// Every validated Service with its endpoint slices, as read from the input. Services are
/// sorted by `namespace/name`; slices keep input order within a Service (lowering sorts
/// endpoints itself), so the result does not depend on file or object order.
public struct Cluster: Sendable {
    public let services: [Service]
    public let slices: [ServiceID: [EndpointSlice]]
    /// The `spec.cidrs` of `ServiceCIDR` objects, sorted, without duplicates; lowering
    /// adds them to `--service-cidr` (`NodeConfig.adding(serviceCIDRs:)`).
    public let serviceCIDRs: [CIDR]

    public init(services: [Service], slices: [ServiceID: [EndpointSlice]], serviceCIDRs: [CIDR] = []) {
        self.services = services.sorted { $0.id < $1.id }
        self.slices = slices
        self.serviceCIDRs = Set(serviceCIDRs).sorted()
    }
}

/// What loading said besides errors: skipped kinds, ExternalName Services, objects
/// skipped by `--keep-going`. Each line reads well after `note: ` or `warning: `.
public struct LoadReport: Sendable, Equatable {
    public var notes: [String] = []
    public var warnings: [String] = []
}

/// Loading failed: every invalid object, in input order.
public struct LoadFailure: Error, Sendable, CustomStringConvertible {
    public let errors: [ModelError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Turns raw objects into a `Cluster`: validates each, rejects duplicates, notes endpoints
/// without a Service, and uses `Endpoints` only for Services that have no EndpointSlice.
public enum ClusterLoader {
    public static func load(_ objects: [RawObject], keepGoing: Bool) throws(LoadFailure) -> (Cluster, LoadReport) {
        var report = LoadReport()
        var errors: [ModelError] = []
        // Services in input order, found by id (copying 10,000 Services in and out of a
        // dictionary was a visible serial step).
        var serviceList: [Service] = []
        var services: [ServiceID: Int] = [:]
        var slicesByName: [ServiceID: Location] = [:]
        var slices: [ServiceID: [EndpointSlice]] = [:]
        services.reserveCapacity(objects.count / 2)
        slicesByName.reserveCapacity(objects.count / 2)
        slices.reserveCapacity(objects.count / 2)
        var endpointsByName: [ServiceID: Location] = [:]
        var legacy: [ServiceID: [EndpointSlice]] = [:]
        var skippedKinds: [String: Int] = [:]
        var serviceCIDRs: [CIDR] = []

        func fail(_ error: ModelError) {
            if keepGoing { report.warnings.append("\(error) (object skipped)") } else { errors.append(error) }
        }

        // Decoding is pure per object: do it on all cores (parsing a List's items there
        // too, each tree freed as soon as it is decoded), then merge in input order.
        let decoded = objects.orderedParallelMap { object -> (apiVersion: String?, result: Decoded) in
            guard ["Service", "EndpointSlice", "Endpoints", "ServiceCIDR"].contains(object.kind) else { return (nil, .other) }
            let raw = object.parsed
            let apiVersion: String? = if case .string(let s)? = raw.value["apiVersion"] { s } else { nil }
            do throws(ModelError) {
                switch raw.kind {
                case "Service": return (apiVersion, .service(try ServiceDecoder.decode(raw)))
                case "EndpointSlice": return (apiVersion, .slice(try EndpointDecoder.decodeSlice(raw)))
                case "ServiceCIDR": return (apiVersion, .serviceCIDR(try ServiceCIDRDecoder.decode(raw)))
                default: return (apiVersion, .endpoints(try EndpointDecoder.decodeEndpoints(raw)))
                }
            } catch {
                return (apiVersion, .failed(error))
            }
        }
        for (raw, (apiVersion, result)) in zip(objects, decoded) {
            do throws(ModelError) {
                switch (raw.kind, apiVersion) {
                case ("Service", "v1"?), ("Service", nil):
                    let service = try result.service()
                    if let first = services[service.id] {
                        fail(
                            .duplicateObject(
                                service.source.child("metadata.name"), kind: "Service",
                                firstSeen: serviceList[first].source.child("metadata.name")))
                        continue
                    }
                    services[service.id] = serviceList.count
                    serviceList.append(service)
                case ("EndpointSlice", _):
                    guard let slice = try result.slice() else { continue }
                    let key = ServiceID(namespace: slice.service.namespace, name: slice.name)
                    if let first = slicesByName[key] {
                        fail(
                            .duplicateObject(
                                slice.source.child("metadata.name"), kind: "EndpointSlice", firstSeen: first.child("metadata.name")))
                        continue
                    }
                    slicesByName[key] = slice.source
                    slices[slice.service, default: []].append(slice)
                case ("Endpoints", _):
                    let (id, here, converted) = try result.endpoints()
                    if let first = endpointsByName[id] {
                        fail(.duplicateObject(here.child("metadata.name"), kind: "Endpoints", firstSeen: first.child("metadata.name")))
                        continue
                    }
                    endpointsByName[id] = here
                    legacy[id] = converted
                case ("ServiceCIDR", let version?) where version.hasPrefix("networking.k8s.io/"):
                    // Overlapping ServiceCIDRs are normal (a range being replaced); the union counts.
                    serviceCIDRs += try result.serviceCIDR().cidrs
                default:
                    skippedKinds[raw.kind.isEmpty ? "(no kind)" : raw.kind, default: 0] += 1
                }
            } catch {
                fail(error)
            }
        }

        // Endpoints without their Service are normal in a real cluster (leader-election
        // Endpoints in kube-system, a slice outliving its Service for a moment): a note
        // each, as kube-proxy ignores them.
        var orphans: [String] = []
        // Only the orphans are sorted, not every Service's slices (a sort of 50,000 keys).
        for (id, list) in slices.filter({ services[$0.key] == nil }).sorted(by: { $0.key < $1.key }) {
            for slice in list {
                orphans.append("\(slice.source): EndpointSlice of Service \(id), which is not in the input; ignored")
            }
            slices[id] = nil
        }
        for (id, list) in legacy.sorted(by: { $0.key < $1.key }) {
            if services[id] == nil {
                if let location = endpointsByName[id] {
                    orphans.append("\(location): Endpoints without a Service \(id) in the input; ignored")
                }
                continue
            }
            if slices[id] == nil { slices[id] = list }
        }
        if !errors.isEmpty { throw LoadFailure(errors: errors) }
        report.notes += orphans

        for (kind, count) in skippedKinds.sorted(by: { $0.key < $1.key }) {
            report.notes.append(
                "skipped \(count) object\(count == 1 ? "" : "s") of kind \(kind) (svc2nft reads Service, EndpointSlice, Endpoints and ServiceCIDR)"
            )
        }
        let cluster = Cluster(services: serviceList, slices: slices, serviceCIDRs: serviceCIDRs)
        for service in cluster.services where service.type == .externalName {
            report.notes.append("\(service.id) is ExternalName (\(service.externalName ?? "")): a DNS alias, no packet rules")
        }
        for service in cluster.services where service.type != .externalName && !service.isHeadless && service.clusterIPs.isEmpty {
            report.notes.append(
                "\(service.id) has no spec.clusterIP yet (the API server allocates one when it creates the Service): no packet rules")
        }
        return (cluster, report)
    }
}

/// One object decoded off the main thread, or why it failed.
private enum Decoded: Sendable {
    case service(Service)
    case slice(EndpointSlice?)
    case endpoints((ServiceID, Location, [EndpointSlice]))
    case serviceCIDR((name: String, cidrs: [CIDR]))
    case other
    case failed(ModelError)

    func service() throws(ModelError) -> Service {
        if case .failed(let e) = self { throw e }
        guard case .service(let s) = self else { preconditionFailure("decoded as another kind") }
        return s
    }

    func slice() throws(ModelError) -> EndpointSlice? {
        if case .failed(let e) = self { throw e }
        guard case .slice(let s) = self else { preconditionFailure("decoded as another kind") }
        return s
    }

    func serviceCIDR() throws(ModelError) -> (name: String, cidrs: [CIDR]) {
        if case .failed(let e) = self { throw e }
        guard case .serviceCIDR(let c) = self else { preconditionFailure("decoded as another kind") }
        return c
    }

    func endpoints() throws(ModelError) -> (ServiceID, Location, [EndpointSlice]) {
        if case .failed(let e) = self { throw e }
        guard case .endpoints(let e) = self else { preconditionFailure("decoded as another kind") }
        return e
    }
}
