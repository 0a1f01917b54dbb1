import Foundation
import Testing
@testable import BNCKernels

/// The kernel family OpenBLAS reports is the one the environment asks for, when it does.
struct BLASKernelsTests {
    @Test func loadedKernelFamilyHasANameAndFollowsTheEnvironment() {
        let loaded = BLASKernels.loaded
        #expect(!loaded.isEmpty && loaded != "unknown")
        if let asked = ProcessInfo.processInfo.environment[BLASKernels.environmentVariable], !asked.isEmpty {
            #expect(loaded.lowercased() == asked.lowercased())
        }
    }
}
