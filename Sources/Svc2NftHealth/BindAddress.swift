import Svc2NftCore

/// Where a server listens: `--healthz-bind-address` and `--metrics-bind-address`, as
/// kube-proxy reads them (its `IPPortVar`: an IP, or an IP and port; a bare IP gets the
/// server's default port). `""` or `"0"` turns the server off.
public enum BindAddress: Sendable, Equatable, CustomStringConvertible {
    case disabled
    case address(host: String, port: Int)

    /// kube-proxy's defaults: health on every address, metrics on loopback only.
    public static let defaultHealthz = "0.0.0.0:10256"
    public static let defaultMetrics = "127.0.0.1:10249"
    public static let healthzPort = 10256
    public static let metricsPort = 10249

    /// Parses `ip:port`, `[v6]:port` or a bare IP (then `defaultPort`); `flag` names the
    /// option in the error.
    public init(_ text: String, defaultPort: Int, flag: String) throws(BindAddressError) {
        if text.isEmpty || text == "0" {
            self = .disabled
            return
        }
        if IPAddress(text) != nil {
            self = .address(host: text, port: defaultPort)
            return
        }
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else {
                throw BindAddressError(flag: flag, text: text)
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw BindAddressError(flag: flag, text: text)
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard IPAddress(String(host)) != nil, let port = Int(portText), (1...65535).contains(port) else {
            throw BindAddressError(flag: flag, text: text)
        }
        self = .address(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .disabled: "disabled"
        case .address(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// A bind address that is neither `host:port`, `[v6]:port`, `""` nor `"0"`.
public struct BindAddressError: Error, Equatable, CustomStringConvertible {
    public let flag: String
    public let text: String
    public var description: String {
        "\(flag): \"\(text)\" is not an IP address and port (such as 0.0.0.0:10256 or [::]:10256; \"\" or 0 disables)"
    }
}
