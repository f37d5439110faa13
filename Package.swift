// swift-tools-version:6.2
import PackageDescription

/// Every Swift target gets the same upcoming features as Hummingbird: a module exposes another module's types only
/// through `public import`, which keeps each layer honest.
var swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]
// CI (`.ci/run`) sets OPSD_STRICT: a warning in the project's own code fails the build there. Dependencies are not
// held to it, and a user's build on another toolchain is not broken by a warning that toolchain adds.
if Context.environment["OPSD_STRICT"] != nil {
    swiftSettings.append(.treatAllWarnings(as: .error))
}

let package = Package(
    name: "kinsta-opsd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kinsta-opsd", targets: ["kinsta-opsd"]),
        .executable(name: "kinsta-ops", targets: ["kinsta-ops"]),
        .executable(name: "kinsta-sim", targets: ["kinsta-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // MARK: Pure core and shared wire types
        .target(name: "OpsCore", swiftSettings: swiftSettings),
        .target(name: "OpsProtocol", dependencies: ["OpsCore"], swiftSettings: swiftSettings),
        // Plan files (TOML or JSON), for the CLI's `plan run` and the daemon's scheduled plans.
        .target(
            name: "PlanFiles",
            dependencies: ["OpsCore", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: swiftSettings
        ),

        // MARK: HTTP out, over libcurl
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(
            name: "CurlHTTP",
            dependencies: ["CCurl"],
            swiftSettings: swiftSettings
        ),

        // MARK: Adapters
        .target(
            name: "KinstaClient",
            dependencies: ["OpsCore", "CurlHTTP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OpsWebhooks",
            dependencies: [
                "OpsCore", "CurlHTTP", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OpsStore",
            dependencies: [
                "OpsCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OpsServer",
            dependencies: [
                "OpsCore", "OpsProtocol", "OpsStore", "KinstaClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OpsDaemon",
            dependencies: [
                "OpsCore", "OpsStore", "KinstaClient", "OpsServer", "CurlHTTP", "OpsWebhooks", "CMalloc", "PlanFiles",
                "OpsProtocol",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: The simulator shares no code with the client, so it cannot share the client's misreadings.
        .target(
            name: "KinstaSimulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Thin executables
        .executableTarget(
            name: "kinsta-opsd",
            dependencies: [
                "OpsDaemon", "OpsCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kinsta-ops",
            dependencies: [
                "OpsCore", "OpsProtocol", "CurlHTTP", "PlanFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kinsta-sim",
            dependencies: [
                "KinstaSimulator", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // glibc's malloc_trim, for giving freed heap back once the last connection left.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),

        // MARK: Test support: what tests and the benchmark share (the manual clock, the virtual-time driver, the
        // scripted Kinsta, scratch databases, the in-process daemon). In no product: only test targets and the
        // benchmark depend on it, so none of it reaches the daemon.
        .target(
            name: "OpsTestSupport",
            dependencies: [
                "OpsDaemon", "OpsCore", "OpsStore", "KinstaClient", "OpsServer", "CurlHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(name: "OpsCoreTests", dependencies: ["OpsCore", "OpsProtocol"], swiftSettings: swiftSettings),
        .testTarget(
            name: "OpsWebhooksTests",
            dependencies: [
                "OpsWebhooks", "OpsCore", "CurlHTTP", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OpsStoreTests",
            dependencies: ["OpsCore", "OpsStore", "OpsTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            // A database as the first release wrote it, migrated by a test (SchemaFixtureTests).
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: [
                "CurlHTTP", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KinstaSimulatorTests",
            dependencies: ["KinstaSimulator", "CurlHTTP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KinstaClientTests",
            dependencies: [
                "KinstaClient", "KinstaSimulator", "OpsCore", "CurlHTTP",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OpsDaemonTests",
            dependencies: [
                "OpsDaemon", "OpsCore", "OpsProtocol", "OpsServer", "OpsStore", "KinstaClient", "KinstaSimulator",
                "CurlHTTP", "OpsWebhooks", "OpsTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["OpsCore", "OpsProtocol", "OpsStore", "CurlHTTP"],
            swiftSettings: swiftSettings
        ),
    ]
)

// The benchmark and its probes (docs/performance.md) are not what users run: a plain build, the demo and
// `make install` leave them out. `ENABLE_OPSD_BENCHMARKS=1 swift build -c release` adds them (CI builds them too, so
// they keep compiling), as Hummingbird does with ENABLE_HB_BENCHMARKS.
if Context.environment["ENABLE_OPSD_BENCHMARKS"] != nil {
    package.products += [
        .executable(name: "kinsta-opsd-bench", targets: ["kinsta-opsd-bench"]),
        .executable(name: "kinsta-opsd-floor", targets: ["kinsta-opsd-floor"]),
        .executable(name: "kinsta-opsd-floor-nofoundation", targets: ["kinsta-opsd-floor-nofoundation"]),
    ]
    package.targets += [
        // MARK: The benchmark (docs/performance.md): real engine, store and client against the simulator, virtual time
        .executableTarget(
            name: "kinsta-opsd-bench",
            dependencies: [
                "OpsCore", "OpsStore", "OpsDaemon", "OpsTestSupport", "KinstaClient", "KinstaSimulator", "CurlHTTP",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/kinsta-opsd-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: P4's floor probes: the daemon's libraries started with none of its logic, with and without the two
        // libraries that bring full Foundation (GRDB, TOMLKit); P4 spawns them next to the daemon.
        .target(
            name: "FloorProbe",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/FloorProbe",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kinsta-opsd-floor",
            dependencies: [
                "FloorProbe", "CurlHTTP", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/kinsta-opsd-floor",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CSQLite3", path: "Benchmarks/CSQLite3"),
        .executableTarget(
            name: "kinsta-opsd-floor-nofoundation",
            dependencies: [
                "FloorProbe", "CCurl", "CSQLite3",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/kinsta-opsd-floor-nofoundation",
            swiftSettings: swiftSettings
        ),
    ]
}
