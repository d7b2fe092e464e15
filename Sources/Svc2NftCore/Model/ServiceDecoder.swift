/// Builds a validated `Service` from a raw `v1/Service` object.
enum ServiceDecoder {
    static let sourceRangesAnnotation = "service.beta.kubernetes.io/load-balancer-source-ranges"

    static func decode(_ raw: RawObject) throws(ModelError) -> Service {
        let root = Field(value: raw.value, file: raw.file, path: raw.path, object: nil)
        let id = try ObjectIdentity.read(root, nameRule: .dns1035Label)
        let object = root.owned(by: id.description)
        let spec = object.child("spec")

        let typeText = try spec.child("type").optionalString() ?? "ClusterIP"
        guard let type = ServiceType(rawValue: typeText) else {
            throw spec.child("type").invalid(typeText, "is not a Service type (ClusterIP, NodePort, LoadBalancer, ExternalName)")
        }

        var externalName: String? = nil
        if type == .externalName {
            let field = spec.child("externalName")
            let name = try field.string()
            let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
            // As the API server: a DNS-1123 subdomain, so lowercase only.
            guard KubernetesName.isDNSSubdomain(trimmed) else {
                throw field.invalid(name, "is not a DNS name (lowercase letters, digits, '-' and '.')")
            }
            externalName = name
        }

        let (clusterIPs, isHeadless) = try clusterAddresses(spec, type: type)
        if isHeadless, type == .nodePort || type == .loadBalancer {
            throw spec.child("clusterIP").invalid("None", "is not allowed for a \(type.rawValue) Service")
        }
        let ports = try servicePorts(spec, type: type)
        if ports.isEmpty, !isHeadless, type != .externalName { throw .missingField(spec.child("ports").location) }
        let externalIPs = try spec.child("externalIPs").list().map { (field) throws(ModelError) in try field.address() }

        var ingress: [LoadBalancerIngress] = []
        for field in try object.child("status").child("loadBalancer").child("ingress").list() {
            guard field.child("ip").isPresent else { continue }  // hostname-only ingress: nothing to match
            let modeField = field.child("ipMode")
            let mode = try modeField.optionalString() ?? "VIP"
            guard mode == "VIP" || mode == "Proxy" else { throw modeField.invalid(mode, "is not an ipMode (VIP or Proxy)") }
            ingress.append(LoadBalancerIngress(ip: try field.child("ip").address(), proxyMode: mode == "Proxy"))
        }

        var sourceRanges = try spec.child("loadBalancerSourceRanges").list().map { (field) throws(ModelError) in try field.cidr() }
        if !sourceRanges.isEmpty, type != .loadBalancer {
            throw spec.child("loadBalancerSourceRanges").invalid(
                sourceRanges[0].description, "may only be used when type is LoadBalancer")
        }
        let annotation = object.child("metadata").child("annotations").child(sourceRangesAnnotation)
        if sourceRanges.isEmpty, let text = try annotation.optionalString() {
            for piece in text.split(separator: ",") {
                let item = Field(value: .string(String(piece)), file: annotation.file, path: annotation.path, object: annotation.object)
                sourceRanges.append(try item.cidr())
            }
        }

        let externalPolicy = try policy(spec.child("externalTrafficPolicy"))
        // As the API server (validateServiceExternalTrafficPolicy): only a Service that
        // outside traffic can reach may say how to treat it.
        let externallyAccessible = type == .nodePort || type == .loadBalancer || !externalIPs.isEmpty
        if !externallyAccessible, let text = try spec.child("externalTrafficPolicy").optionalString(), !text.isEmpty {
            throw spec.child("externalTrafficPolicy").invalid(
                text, "may only be set for externally-accessible Services (NodePort, LoadBalancer, or with externalIPs)")
        }
        let internalPolicy = try policy(spec.child("internalTrafficPolicy"))

        let affinityField = spec.child("sessionAffinity")
        let affinityText = try affinityField.optionalString() ?? "None"
        let affinity: SessionAffinity
        switch affinityText {
        case "None":
            guard !spec.child("sessionAffinityConfig").isPresent else {
                throw spec.child("sessionAffinityConfig").invalid("{...}", "must not be set when sessionAffinity is None")
            }
            affinity = .none
        case "ClientIP":
            let timeoutField = spec.child("sessionAffinityConfig").child("clientIP").child("timeoutSeconds")
            let timeout = try timeoutField.optionalInt() ?? 10800
            guard (1...86400).contains(timeout) else { throw timeoutField.invalid(String(timeout), "is not between 1 and 86400 seconds") }
            affinity = .clientIP(timeoutSeconds: timeout)
        default:
            throw affinityField.invalid(affinityText, "is not a session affinity (None or ClientIP)")
        }

        return Service(
            id: id, type: type, clusterIPs: clusterIPs, isHeadless: isHeadless, ports: ports, externalIPs: externalIPs,
            loadBalancerIngress: type == .loadBalancer ? ingress : [],
            loadBalancerSourceRanges: type == .loadBalancer ? sourceRanges : [],
            externalTrafficPolicy: externalPolicy, internalTrafficPolicy: internalPolicy, sessionAffinity: affinity,
            healthCheckNodePort: try spec.child("healthCheckNodePort").optionalPort(), externalName: externalName,
            source: object.location)
    }

    private static func policy(_ field: Field) throws(ModelError) -> TrafficPolicy {
        guard let text = try field.optionalString(), !text.isEmpty else { return .cluster }
        guard let policy = TrafficPolicy(rawValue: text) else { throw field.invalid(text, "is not a traffic policy (Cluster or Local)") }
        return policy
    }

    private static func clusterAddresses(_ spec: Field, type: ServiceType) throws(ModelError) -> ([IPAddress], Bool) {
        if type == .externalName { return ([], false) }
        var texts: [(String, Field)] = []
        let listField = spec.child("clusterIPs")
        for item in try listField.list() { texts.append((try item.string(), item)) }
        let single = try spec.child("clusterIP").optionalString()
        if texts.isEmpty, let single {
            texts.append((single, spec.child("clusterIP")))
        } else if let single, !single.isEmpty, single != texts[0].0 {
            throw listField.invalid(texts[0].0, "must equal spec.clusterIP (\(single)) as the first entry")
        }
        // No clusterIP yet: the API server allocates one when it creates the Service
        // (`kubectl create service ... --dry-run=client` prints none). No address, no rules.
        guard !texts.isEmpty, !texts[0].0.isEmpty else { return ([], false) }
        if texts[0].0 == "None" { return ([], true) }
        var addresses: [IPAddress] = []
        for (text, field) in texts {
            guard let address = IPAddress(text) else { throw field.invalid(text, "is not an IP address") }
            guard !addresses.contains(where: { $0.family == address.family }) else {
                throw field.invalid(text, "is a second cluster IP of the same family")
            }
            addresses.append(address)
        }
        return (addresses, false)
    }

    private static func servicePorts(_ spec: Field, type: ServiceType) throws(ModelError) -> [ServicePort] {
        let portsField = spec.child("ports")
        let items = try portsField.list()
        var ports: [ServicePort] = []
        var seen: Set<String> = []
        for item in items {
            let nameField = item.child("name")
            let name = try nameField.portName()
            if name.isEmpty, items.count > 1 { throw .missingField(nameField.location) }
            guard seen.insert(name).inserted else { throw nameField.invalid(name, "is used by two ports") }
            let port = try item.child("port").port()
            let targetField = item.child("targetPort")
            let target: TargetPort
            switch targetField.value {
            // The API server defaults an absent, 0 or "" targetPort to the port.
            case .none, .null?, .number(0)?, .string("")?: target = .number(port)
            case .string(let text)?:
                // As the API server: a quoted "8080" is a port name, and not a valid one.
                guard KubernetesName.isPortName(text) else {
                    throw targetField.invalid(
                        text,
                        "is not a container port name (at most 15 lowercase letters, digits and '-', with a letter); a port number is written without quotes"
                    )
                }
                target = .name(text)
            default: target = .number(try targetField.port())
            }
            var nodePort: UInt16 = 0
            if type == .nodePort || type == .loadBalancer {
                nodePort = try item.child("nodePort").optionalPort()
            } else if type == .clusterIP, try item.child("nodePort").optionalPort() != 0 {
                throw item.child("nodePort").invalid(
                    String(try item.child("nodePort").optionalPort()), "may not be used when type is ClusterIP")
            }
            ports.append(
                ServicePort(
                    name: name, protocol: try item.child("protocol").l4Protocol(), port: port, targetPort: target, nodePort: nodePort))
        }
        return ports
    }
}

/// Reads `metadata.namespace` and `metadata.name` and checks them against Kubernetes'
/// naming rules; the namespace defaults to `default` as kubectl does.
enum ObjectIdentity {
    /// The API server's rule for the kind's `metadata.name`: Services are DNS-1035
    /// labels (`ValidateServiceName`), Endpoints and EndpointSlices DNS-1123 subdomains.
    enum NameRule { case dns1035Label, dnsSubdomain }

    static func read(_ root: Field, nameRule: NameRule) throws(ModelError) -> ServiceID {
        let metadata = root.child("metadata")
        let nameField = metadata.child("name")
        let name = try nameField.string()
        let namespaceField = metadata.child("namespace")
        let namespace = try namespaceField.optionalString() ?? "default"
        guard KubernetesName.isDNSLabel(namespace) else {
            throw namespaceField.owned(by: "(invalid namespace)/\(KubernetesName.isDNSSubdomain(name) ? name : "(invalid name)")").invalid(
                namespace, "is not a valid namespace (lowercase letters, digits, '-', at most 63)")
        }
        switch nameRule {
        case .dns1035Label:
            guard KubernetesName.isDNS1035Label(name) else {
                throw nameField.owned(by: "\(namespace)/(invalid name)").invalid(
                    name, "is not a valid Service name (at most 63 lowercase letters, digits and '-', starting with a letter)")
            }
        case .dnsSubdomain:
            guard KubernetesName.isDNSSubdomain(name) else {
                throw nameField.owned(by: "\(namespace)/(invalid name)").invalid(
                    name, "is not a valid name (dot-separated lowercase letters, digits and '-', at most 253)")
            }
        }
        return ServiceID(namespace: namespace, name: name)
    }
}
