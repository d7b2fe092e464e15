// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "svc2nft",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "svc2nft", targets: ["svc2nft"]),
        .library(name: "Svc2NftCore", targets: ["Svc2NftCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Pure Swift: manifests -> model -> rule graph -> nft text. No C.
        .target(name: "Svc2NftCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        // libnftnl + libmnl + libnetfilter_conntrack headers, found with pkg-config. Only
        // Svc2NftNetlink imports it (the one C-interop target; conntrack cleanup shares it).
        .systemLibrary(
            name: "CNftnl",
            pkgConfig: "libnftnl libmnl libnetfilter_conntrack",
            providers: [.apt(["libnftnl-dev", "libmnl-dev", "libnetfilter-conntrack-dev"])]
        ),
        // Rule graph -> one netlink batch -> kernel.
        .target(name: "Svc2NftNetlink", dependencies: ["Svc2NftCore", "CNftnl"]),
        // kube-proxy's /healthz, /livez, Service health check ports and /metrics, over
        // HTTP (SwiftNIO) and Prometheus text. No nft or netlink knowledge.
        .target(
            name: "Svc2NftHealth",
            dependencies: [
                "Svc2NftCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The Kubernetes API: where it is (kubeconfig, in-cluster), paged lists and watches.
        .target(
            name: "Svc2NftKube",
            dependencies: [
                "Svc2NftCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]),
        // The node agent: API watches -> store -> debounced syncs through the same lowering
        // and encoder as `apply`.
        .target(
            name: "Svc2NftAgent",
            dependencies: [
                "Svc2NftCore", "Svc2NftNetlink", "Svc2NftKube",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // Golden-file and fixture helpers, and the API server double, for tests only.
        .target(
            name: "Svc2NftTestSupport",
            dependencies: [
                "Svc2NftCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // The command line's shared option groups (swift-argument-parser), for the CLI
        // and for tests that read fixtures' args.
        .target(
            name: "Svc2NftCommandLine",
            dependencies: ["Svc2NftCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "svc2nft",
            dependencies: [
                "Svc2NftCore", "Svc2NftCommandLine", "Svc2NftNetlink", "Svc2NftKube", "Svc2NftAgent", "Svc2NftHealth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // jemalloc (libjemalloc-dev) replaces glibc's malloc: a compile allocates and frees
            // millions of small values on two threads; README "Performance" has the numbers.
            linkerSettings: [.linkedLibrary("jemalloc")]
        ),
        // make bench: synthetic clusters and the benchmark table.
        .executableTarget(
            name: "svc2nft-bench",
            // The API server double (test support) feeds `svc2nft run` for its latency figure.
            dependencies: ["Svc2NftCore", "Svc2NftNetlink", "Svc2NftTestSupport"], linkerSettings: [.linkedLibrary("jemalloc")]),
        // make fuzz: the input layer under libFuzzer (scripts/fuzz); built normally, a
        // replay tool for the inputs the fuzzer found.
        .executableTarget(name: "svc2nft-fuzz", dependencies: ["Svc2NftCore"]),
        .testTarget(name: "Svc2NftCoreTests", dependencies: ["Svc2NftCore", "Svc2NftCommandLine", "Svc2NftTestSupport"]),
        .testTarget(name: "Svc2NftHealthTests", dependencies: ["Svc2NftCore", "Svc2NftHealth", "Svc2NftTestSupport"]),
        .testTarget(
            name: "Svc2NftNetlinkTests", dependencies: ["Svc2NftCore", "Svc2NftCommandLine", "Svc2NftNetlink", "Svc2NftTestSupport"]),
        .testTarget(
            name: "Svc2NftKernelTests",
            dependencies: ["Svc2NftCore", "Svc2NftNetlink", "Svc2NftTestSupport"]
        ),
        .testTarget(name: "Svc2NftKubeTests", dependencies: ["Svc2NftCore", "Svc2NftKube", "Svc2NftAgent", "Svc2NftTestSupport"]),
    ]
)
