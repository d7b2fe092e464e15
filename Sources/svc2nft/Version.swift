/// svc2nft's version, printed by `svc2nft --version`: the one place it is written.
enum Version {
    static let current = "0.1.0"
}
