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
    ],
    targets: [
        // Pure Swift: manifests -> model -> rule graph -> nft text. No C.
        .target(name: "Svc2NftCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        // libnftnl + libmnl headers, found with pkg-config. Only Svc2NftNetlink imports it.
        .systemLibrary(
            name: "CNftnl",
            pkgConfig: "libnftnl libmnl",
            providers: [.apt(["libnftnl-dev", "libmnl-dev"])]
        ),
        // Rule graph -> one netlink batch -> kernel.
        .target(name: "Svc2NftNetlink", dependencies: ["Svc2NftCore", "CNftnl"]),
        // Golden-file and fixture helpers, for tests only.
        .target(name: "Svc2NftTestSupport", dependencies: ["Svc2NftCore"]),
        .executableTarget(
            name: "svc2nft",
            dependencies: [
                "Svc2NftCore", "Svc2NftNetlink",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // jemalloc (libjemalloc-dev) replaces glibc's malloc: a compile allocates and frees
            // millions of small values on two threads; README "Performance" has the numbers.
            linkerSettings: [.linkedLibrary("jemalloc")]
        ),
        // make bench: synthetic clusters and the benchmark table.
        .executableTarget(
            name: "svc2nft-bench", dependencies: ["Svc2NftCore", "Svc2NftNetlink"], linkerSettings: [.linkedLibrary("jemalloc")]),
        // make fuzz: the input layer under libFuzzer (scripts/fuzz); built normally, a
        // replay tool for the inputs the fuzzer found.
        .executableTarget(name: "svc2nft-fuzz", dependencies: ["Svc2NftCore"]),
        .testTarget(name: "Svc2NftCoreTests", dependencies: ["Svc2NftCore", "Svc2NftTestSupport"]),
        .testTarget(name: "Svc2NftNetlinkTests", dependencies: ["Svc2NftCore", "Svc2NftNetlink", "Svc2NftTestSupport"]),
        .testTarget(
            name: "Svc2NftKernelTests",
            dependencies: ["Svc2NftCore", "Svc2NftNetlink", "Svc2NftTestSupport"]
        ),
    ]
)
