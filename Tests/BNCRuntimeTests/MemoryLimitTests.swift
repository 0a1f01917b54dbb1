import BNCGraph
import Testing

@testable import BNCRuntime

/// Sizes in a model file are untrusted: the executor refuses a plan whose single sample
/// needs more than its memory limit, before allocating anything.
@Suite struct MemoryLimitTests {
    @Test func hugeDeclaredInputIsRefusedBeforeAllocating() {
        var net = Net([1 << 31])
        net.op("Relu", ["x"], "y", name: "relu")
        #expect {
            _ = try Executor(graph: net.graph)
        } throws: { error in
            guard let e = error as? ModelError else { return false }
            return e.kind == .unsupportedModel && e.place == "graph input 'x'"
                && e.problem == "shape [1, 2147483648] alone takes 8 GiB; one sample needs 16 GiB in all, more than the executor's memory limit of 2 GiB"
        }
    }

    @Test func theLargestValueIsNamed() {
        // A one-float input broadcast by Add against a 4096×1024 constant.
        var net = Net([1, 1])
        net.weight("big", [1 << 12, 1 << 10], 0...0)
        net.op("Add", ["x", "big"], "y", name: "grow")
        #expect {
            _ = try Executor(graph: net.graph, maxBatch: 1, memoryLimit: 8 << 20)
        } throws: { error in
            guard let e = error as? ModelError else { return false }
            return e.place == "node 'grow' (Add)" && e.problem.hasPrefix("shape [1, 4096, 1024] alone takes 16 MiB")
                && e.problem.hasSuffix("limit of 8 MiB")
        }
        #expect(throws: Never.self) { _ = try Executor(graph: net.graph, maxBatch: 1, memoryLimit: 64 << 20) }
    }

    @Test func convolutionScratchCountsToo() throws {
        // 1×256×256 input, 7×7 kernel: 49 × 250² floats of im2col columns ≈ 12 MiB per sample
        // (× the cores), while every value is ≤ 256 KiB.
        var net = Net([1, 256, 256])
        net.weight("w", [1, 1, 7, 7])
        net.op("Conv", ["x", "w"], "y", name: "conv")
        #expect {
            _ = try Executor(graph: net.graph, maxBatch: 1, memoryLimit: 4 << 20)
        } throws: { error in
            guard let e = error as? ModelError else { return false }
            // 49 × 62500 columns per core × 2 cores.
            return e.place == "node 'conv' (Conv)" && e.problem.hasPrefix("its scratch (6125000 floats: conv 7×7 1→1)")
        }
        let executor = try Executor(graph: net.graph, maxBatch: 1, memoryLimit: 64 << 20)
        #expect(executor.outputShape == [1, 250, 250])
    }

    @Test func byteText() {
        #expect(Executor.byteText(512) == "512 bytes")
        #expect(Executor.byteText(2 << 30) == "2 GiB")
        #expect(Executor.byteText(3 << 19) == "1.5 MiB")
        #expect(Executor.byteText(Int.max) == "more than 8 EiB")
    }
}
