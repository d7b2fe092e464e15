/// A synthetic cluster as `kubectl get svc,endpointslices -A -o json` prints it: N
/// Services (70% ClusterIP, 20% NodePort, 10% LoadBalancer; every 20th without
/// endpoints), each with M endpoints in EndpointSlices of at most 100 (every 10th
/// endpoint not ready), with the metadata kubectl shows. Deterministic: the same N and
/// M always give the same bytes, and `changed` alters exactly one Service's endpoints.
struct Generator {
    let services: Int
    let endpoints: Int
    /// Index of a Service whose endpoints are shifted (for "one Service changed").
    var changed: Int? = nil
    /// Only this Service and its slices (a List), as a watch would send them again.
    var only: Int? = nil

    func clusterIP(_ i: Int) -> String { "10.\(96 + i / 65536).\((i / 256) % 256).\(i % 256)" }
    func podIP(_ i: Int, _ k: Int) -> String {
        let n = i * endpoints + k + (changed == i ? 7_000_000 : 0)
        return "10.\(128 + n / 65536 % 128).\((n / 256) % 256).\(n % 256)"
    }

    func uid(_ i: Int, _ salt: Int) -> String {
        var x = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(salt)
        x ^= x >> 29
        let hex = String(x, radix: 16).leftPad(16)
        return "\(hex.prefix(8))-\(hex.dropFirst(8).prefix(4))-4\(hex.dropFirst(12).prefix(3))-a\(hex.suffix(3))-\(hex.prefix(12))"
    }

    func generate() -> String {
        var out = "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n"
        var first = true
        func item(_ text: String) {
            if !first { out += ",\n" }
            first = false
            out += text
        }
        for i in only.map({ [$0] }) ?? Array(0..<services) {
            let ns = "team-\(i % 97)"
            let name = "svc-\(i)"
            let kind = i % 10 < 7 ? "ClusterIP" : i % 10 < 9 ? "NodePort" : "LoadBalancer"
            let nodePort = kind == "ClusterIP" ? "" : ",\n                        \"nodePort\": \(30000 + i % 2768)"
            var status = "{\n                \"loadBalancer\": {}\n            }"
            if kind == "LoadBalancer" {
                status =
                    "{\n                \"loadBalancer\": {\n                    \"ingress\": [\n                        {\n                            \"ip\": \"198.18.\((i / 256) % 256).\(i % 256)\",\n                            \"ipMode\": \"VIP\"\n                        }\n                    ]\n                }\n            }"
            }
            item(
                """
                        {
                            "apiVersion": "v1",
                            "kind": "Service",
                            "metadata": {
                                "annotations": {
                                    "meta.helm.sh/release-name": "\(name)",
                                    "meta.helm.sh/release-namespace": "\(ns)"
                                },
                                "creationTimestamp": "2026-01-\(10 + i % 18)T08:\(10 + i % 50):00Z",
                                "labels": {
                                    "app.kubernetes.io/instance": "\(name)",
                                    "app.kubernetes.io/managed-by": "Helm",
                                    "app.kubernetes.io/name": "\(name)"
                                },
                                "name": "\(name)",
                                "namespace": "\(ns)",
                                "resourceVersion": "\(100000 + i * 7)",
                                "uid": "\(uid(i, 1))"
                            },
                            "spec": {
                                "clusterIP": "\(clusterIP(i))",
                                "clusterIPs": [
                                    "\(clusterIP(i))"
                                ],
                                "internalTrafficPolicy": "Cluster",
                                "ipFamilies": [
                                    "IPv4"
                                ],
                                "ipFamilyPolicy": "SingleStack",
                                "ports": [
                                    {
                                        "name": "http",
                                        "port": 80,
                                        "protocol": "TCP",
                                        "targetPort": "http"\(nodePort)
                                    }
                                ],
                                "selector": {
                                    "app.kubernetes.io/name": "\(name)"
                                },
                                "sessionAffinity": "None",
                                "type": "\(kind)"\(kind == "ClusterIP" ? "" : ",\n                \"externalTrafficPolicy\": \"Cluster\"")
                            },
                            "status": \(status)
                        }
                """)
            if i % 20 == 19 { continue }  // no endpoints
            var start = 0
            var slice = 0
            while start < endpoints {
                let count = min(100, endpoints - start)
                var eps: [String] = []
                for k in start..<(start + count) {
                    let ready = k % 10 != 9
                    eps.append(
                        """
                                        {
                                            "addresses": [
                                                "\(podIP(i, k))"
                                            ],
                                            "conditions": {
                                                "ready": \(ready),
                                                "serving": \(ready),
                                                "terminating": false
                                            },
                                            "nodeName": "node-\(k % 30)",
                                            "targetRef": {
                                                "kind": "Pod",
                                                "name": "\(name)-6d4b7c9f8-\(k)",
                                                "namespace": "\(ns)",
                                                "uid": "\(uid(i * 1000 + k, 2))"
                                            },
                                            "zone": "zone-\(k % 3)"
                                        }
                        """)
                }
                item(
                    """
                            {
                                "addressType": "IPv4",
                                "apiVersion": "discovery.k8s.io/v1",
                                "endpoints": [
                    \(eps.joined(separator: ",\n"))
                                ],
                                "kind": "EndpointSlice",
                                "metadata": {
                                    "creationTimestamp": "2026-01-\(10 + i % 18)T08:\(10 + i % 50):05Z",
                                    "generateName": "\(name)-",
                                    "generation": 3,
                                    "labels": {
                                        "app.kubernetes.io/name": "\(name)",
                                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                                        "kubernetes.io/service-name": "\(name)"
                                    },
                                    "name": "\(name)-\(uid(i, 3).prefix(5))\(slice)",
                                    "namespace": "\(ns)",
                                    "resourceVersion": "\(200000 + i * 7)",
                                    "uid": "\(uid(i, 4 + slice))"
                                },
                                "ports": [
                                    {
                                        "name": "http",
                                        "port": 8080,
                                        "protocol": "TCP"
                                    }
                                ]
                            }
                    """)
                start += count
                slice += 1
            }
        }
        out += "\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        return Self.reindent(out)
    }
}

extension Generator {
    /// The literals above are indented for reading; kubectl indents by depth, 4 spaces.
    static func reindent(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count / 2)
        var depth = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if trimmed.first == "}" || trimmed.first == "]" { depth = max(0, depth - 1) }
            out += String(repeating: " ", count: 4 * depth)
            out += trimmed
            out += "\n"
            if trimmed.last == "{" || trimmed.last == "[" { depth += 1 }
        }
        return out
    }
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
