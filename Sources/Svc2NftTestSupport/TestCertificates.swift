import Foundation

/// A throwaway CA and a server certificate it signed (for 127.0.0.1 and localhost), made
/// with the `openssl` command in a temporary folder that goes away with the value.
public final class TestCertificates {
    public let directory: URL
    public var caCertificate: String { directory.appendingPathComponent("ca.crt").path }
    public var serverCertificate: String { directory.appendingPathComponent("server.crt").path }
    public var serverKey: String { directory.appendingPathComponent("server.key").path }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("svc2nft-ca-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard let openssl = Command.which("openssl") else { throw TestBedError(message: "openssl is not installed") }
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
            to: directory.appendingPathComponent("san.ext"), atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "2", "-subj", "/CN=svc2nft-test-ca"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
             "-out", "server.csr", "-subj", "/CN=kube-apiserver"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
             "-days", "2", "-extfile", "san.ext"],
        ]
        for step in steps {
            let result = try Command.run(openssl, step, in: directory)
            guard result.status == 0 else { throw TestBedError(message: "openssl \(step[0]): \(result.stderr)") }
        }
    }

    /// A kubeconfig for `server` with this CA and `token`, written beside the certificates.
    public func kubeconfig(server: String, token: String?) throws -> String {
        let path = directory.appendingPathComponent("kubeconfig").path
        let user = token.map { "    token: \($0)\n" } ?? "    {}\n"
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: double
              cluster:
                server: \(server)
                certificate-authority: ca.crt
            users:
            - name: tester
              user:
            \(user)contexts:
            - name: double
              context: {cluster: double, user: tester}
            current-context: double

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}
