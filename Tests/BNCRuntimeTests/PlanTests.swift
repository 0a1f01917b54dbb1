import BNCGraph
import BNCTestSupport
import Testing

@testable import BNCRuntime

/// Whole networks, fusion, chunking, and the errors for what the executor cannot run.
@Suite struct PlanTests {
    /// 784-100-100-10 style MLP with BN (smaller widths), both Gemm and MatMul+Add forms.
    @Test(arguments: ["Relu", "Sigmoid", "Tanh"])
    func mlpWithBatchNorm(_ act: String) throws {
        var n = Net([20])
        n.weight("W1", [16, 20]); n.weight("b1", [16])
        n.op("Gemm", ["x", "W1", "b1"], "h1", [int("transB", 1)])
        n.bn("h1", "h1n", channels: 16)
        n.op(act, ["h1n"], "a1")
        n.weight("W2", [16, 12]); n.weight("b2", [12])
        n.op("MatMul", ["a1", "W2"], "m2")
        n.op("Add", ["m2", "b2"], "h2")
        n.bn("h2", "h2n", channels: 12)
        n.op(act, ["h2n"], "a2")
        n.weight("W3", [12, 10]); n.weight("b3", [1, 10])
        n.op("MatMul", ["a2", "W3"], "m3")
        n.op("Add", ["b3", "m3"], "z")
        n.op("Softmax", ["z"], "y", [int("axis", 1)])
        let exec = try expectMatchesReference(n.graph, batch: 7)
        // Gemm+BN+act; MatMul+Add+BN+act; MatMul+Add; Softmax: each BN's affine and the
        // activation run in the product's epilogue.
        #expect(exec.stepCount == 4)
        // A batch of 150 runs as two per-core sample ranges (≥ Executor.splitThreshold).
        try expectMatchesReference(n.graph, batch: 150)
    }

    @Test func fusedLinearActivations() throws {
        var n = Net([8])
        n.weight("W1", [8, 6]); n.weight("c1", [6])
        n.op("Gemm", ["x", "W1", "c1"], "h", [Attribute("beta", .float(0.5))])
        n.op("Relu", ["h"], "a")
        n.weight("W2", [6, 5])
        n.op("MatMul", ["a", "W2"], "m")
        n.weight("c2", [5])
        n.op("Add", ["m", "c2"], "s")
        n.op("Sigmoid", ["s"], "y")
        let exec = try expectMatchesReference(n.graph)
        #expect(exec.stepCount == 2)
    }

    @Test func smallCNN() throws {
        try expectMatchesReference(Net.smallCNN().graph, batch: 4)
    }

    @Test func literalBatchReshapeRunsOneSampleAtATime() throws {
        var n = Net([2, 3])
        n.shape("s", [1, 6])
        n.op("Reshape", ["x", "s"], "r")
        n.weight("W", [6, 4])
        n.op("Gemm", ["r", "W"], "y")
        let exec = try expectMatchesReference(n.graph, batch: 1)
        #expect(exec.batchCapacity == 1)
        // A batch of 3 runs as three batches of 1, each as the graph defines it.
        var rng = SeededRNG(seed: 3)
        let x = rng.floats(18)
        let y = exec.run(x)
        #expect(y.count == 12)
        for i in 0..<3 {
            let ref = try ReferenceEvaluator.run(n.graph, input: RefTensor(shape: [1, 2, 3], data: x[(6 * i)..<(6 * i + 6)].map(Double.init)))
            #expect(zip(y[(4 * i)..<(4 * i + 4)], ref.data).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        }
    }

    @Test func softmaxOverTheBatchAxisRunsOneSampleAtATime() throws {
        var n = Net([4])
        n.op("Softmax", ["x"], "y", [int("axis", 0)])
        let exec = try Executor(graph: n.graph)
        #expect(exec.batchCapacity == 1)
    }

    @Test func capacityFollowsMemoryBudget() throws {
        var n = Net([1000])
        n.op("Relu", ["x"], "y")
        let exec = try Executor(graph: n.graph, maxBatch: 1024, memoryBudget: 400_000)
        #expect(exec.batchCapacity >= 1 && exec.batchCapacity < 100)
    }

    @Test func graphOutputEqualToAFusedCandidateIsKept() throws {
        // h is a graph output, so Gemm must not fuse the Relu into it.
        var n = Net([4])
        n.weight("W", [4, 3])
        n.op("Gemm", ["x", "W"], "y")
        n.op("Relu", ["y"], "r")
        var g = n.graph
        g.outputs.append(ValueInfo(name: "r", shape: nil))
        let exec = try Executor(graph: g)
        #expect(exec.stepCount == 2)
        let x: [Float] = [1, -2, 3, -4]
        let y = exec.run(x)
        #expect(y.contains { $0 < 0 } || y.allSatisfy { $0 >= 0 })
        let ref = try ReferenceEvaluator.run(g, input: RefTensor(shape: [1, 4], data: x.map(Double.init)))
        #expect(zip(y, ref.data).allSatisfy { abs(Double($0) - $1) < 1e-5 })
    }

    // MARK: Errors

    func expectUnsupported(_ g: Graph, place: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Executor(graph: g)
            Issue.record("expected an error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.place == place, "place \(error.place)", sourceLocation: sourceLocation)
            #expect(error.problem.contains(text), "problem \(error.problem)", sourceLocation: sourceLocation)
        }
    }

    /// transA on the data input mixes the samples of a batch, so the plan runs one input
    /// as declared at a time (capacity 1), with the general product.
    @Test func transposedDataInputRunsAsDeclared() throws {
        var n = Net([4])
        n.weight("W", [1, 5])
        n.op("Gemm", ["x", "W"], "y", [int("transA", 1)], name: "fc")
        let exec = try expectMatchesReference(n.graph, batch: 1)
        #expect(exec.batchCapacity == 1)
        #expect(exec.outputShape == [4, 5])
    }

    @Test func weightFromAnotherInput() {
        var n = Net([4])
        n.op("MatMul", ["x", "x"], "y", name: "mm")
        expectUnsupported(n.graph, place: "node 'mm' (MatMul)", containing: "reduction length")
    }

    @Test func threeDimensionalConv() {
        var n = Net([1, 4, 4, 4])
        n.weight("w", [2, 1, 2, 2, 2])
        n.op("Conv", ["x", "w"], "y", name: "c3")
        expectUnsupported(n.graph, place: "node 'c3' (Conv)", containing: "3-D convolution")
    }

    @Test func badAutoPad() {
        var n = Net([1, 4, 4])
        n.op("MaxPool", ["x"], "y", [ints("kernel_shape", [2, 2]), str("auto_pad", "SAME")], name: "p")
        expectUnsupported(n.graph, place: "node 'p' (MaxPool) attribute 'auto_pad'", containing: "is 'SAME'")
    }

    @Test func shapeMismatch() {
        var n = Net([5])
        n.weight("W", [4, 3])
        n.op("Gemm", ["x", "W"], "y", name: "fc")
        expectUnsupported(n.graph, place: "node 'fc' (Gemm)", containing: "reduction length (5 vs 4)")
    }

    @Test func reshapeThatDoesNotFit() {
        var n = Net([6])
        n.shape("s", [0, 4])
        n.op("Reshape", ["x", "s"], "y", name: "r")
        expectUnsupported(n.graph, place: "node 'r' (Reshape)", containing: "elements")
    }

    @Test func symbolicFeatureDim() {
        var g = Net([4]).graph
        g.nodes = [Node(name: "i", opType: "Identity", inputs: ["x"], outputs: ["y"])]
        g.inputs = [ValueInfo(name: "x", shape: [.param("N"), .param("F")])]
        expectUnsupported(g, place: "graph input 'x'", containing: "fixed sizes")
    }

    @Test func twoInputs() {
        var g = Net([4]).graph
        g.nodes = [Node(name: "a", opType: "Add", inputs: ["x", "z"], outputs: ["y"])]
        g.inputs.append(ValueInfo(name: "z", shape: [.param("N"), .value(4)]))
        expectUnsupported(g, place: "graph", containing: "exactly one")
    }

    @Test func batchNormStatisticsFromANode() {
        var n = Net([3])
        n.bn("x", "y", channels: 3)
        n.nodes.insert(Node(name: "id", opType: "Identity", inputs: ["x"], outputs: ["xm"]), at: 0)
        n.nodes[1].inputs[3] = "xm"
        n.nodes[1].name = "bn"
        expectUnsupported(n.graph, place: "node 'bn' (BatchNormalization)", containing: "shape")
    }
}
