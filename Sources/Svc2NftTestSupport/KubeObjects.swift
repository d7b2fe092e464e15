/// Small Kubernetes objects for tests that drive the API server double, in the shape the
/// API server stores them.
public enum KubeObjects {
    public static func service(
        _ name: String, namespace: String = "default", clusterIP: String, port: Int = 80, targetPort: Int = 8080,
        protocol proto: String = "TCP", labels: [String: String] = [:]
    ) -> [String: Any] {
        [
            "kind": "Service",
            "metadata": ["name": name, "namespace": namespace, "labels": labels],
            "spec": [
                "type": "ClusterIP", "clusterIP": clusterIP, "clusterIPs": [clusterIP],
                "ports": [["name": "http", "protocol": proto, "port": port, "targetPort": targetPort]],
            ],
        ]
    }

    public static func slice(
        _ name: String, service: String, namespace: String = "default", addresses: [String], port: Int = 8080,
        node: String = "node-a", protocol proto: String = "TCP"
    ) -> [String: Any] {
        [
            "kind": "EndpointSlice",
            "metadata": ["name": name, "namespace": namespace, "labels": ["kubernetes.io/service-name": service]],
            "addressType": "IPv4",
            "endpoints": addresses.map { ["addresses": [$0], "conditions": ["ready": true], "nodeName": node] },
            "ports": [["name": "http", "protocol": proto, "port": port]],
        ]
    }

    public static func node(_ name: String, internalIP: String, zone: String? = nil) -> [String: Any] {
        var labels: [String: String] = ["kubernetes.io/hostname": name]
        if let zone { labels["topology.kubernetes.io/zone"] = zone }
        return [
            "kind": "Node",
            "metadata": ["name": name, "labels": labels],
            "spec": ["podCIDRs": ["10.244.1.0/24"]],
            "status": ["addresses": [["type": "InternalIP", "address": internalIP], ["type": "Hostname", "address": name]]],
        ]
    }
}
