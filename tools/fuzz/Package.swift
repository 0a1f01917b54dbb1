// swift-tools-version:6.0
// libFuzzer harnesses for bnc's untrusted-input readers. Built by tools/fuzz/run with
// `-sanitize=fuzzer,address`. Each harness keeps its own main.swift, which hands control
// to libFuzzer through LLVMFuzzerRunDriver (SwiftPM renames executables' entry points, so
// libFuzzer's own main cannot be used). A separate package, so that the instrumented
// build never touches the main package's normal one.
import PackageDescription

let package = Package(
    name: "bnc-fuzz",
    dependencies: [.package(name: "bnc", path: "../..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "FuzzModelLoader",
            dependencies: ["CFuzzerDriver", .product(name: "BNCModelFile", package: "bnc"), .product(name: "BNCGraph", package: "bnc")]),
        .executableTarget(
            name: "FuzzIDX",
            dependencies: ["CFuzzerDriver", .product(name: "BNCData", package: "bnc")]),
        .executableTarget(
            name: "FuzzFold",
            dependencies: [
                "CFuzzerDriver", .product(name: "BNCModelFile", package: "bnc"), .product(name: "BNCGraph", package: "bnc"),
                .product(name: "BNCPasses", package: "bnc"), .product(name: "BNCRuntime", package: "bnc"),
                .product(name: "BNCOps", package: "bnc"),
            ]),
        .executableTarget(
            name: "FuzzPlan",
            dependencies: [
                "CFuzzerDriver", .product(name: "BNCModelFile", package: "bnc"), .product(name: "BNCGraph", package: "bnc"),
                .product(name: "BNCRuntime", package: "bnc"), .product(name: "BNCOps", package: "bnc"),
            ]),
    ]
)
