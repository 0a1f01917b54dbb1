import BNCGraph
import BNCOps
import BNCTestSupport
import Testing

@testable import BNCRuntime

/// The shape and data-movement operators through the executor and GraphRunner, against the
/// Double reference. They copy values, so outputs must equal the reference exactly
/// (tolerance 0: a Float copied is the Float); only graphs with a product after the
/// movement use `expectMatchesReference`'s 1e-5 of the scale.
@Suite struct TensorOperatorTests {
    // MARK: Helpers

    /// Runs `graph` through GraphRunner on a random batch of each size and expects the
    /// reference's values exactly (and its shape).
    func expectRunnerMatches(
        _ graph: Graph, opset: Int, batches: [Int] = [1, 5], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try ModelValidator.validate(graph, opset: opset)
        let runner = GraphRunner(graph: graph, opset: opset)
        let perSample: [Int] = graph.inputs[0].shape!.dropFirst().map { if case .value(let v) = $0 { Int(v) } else { 0 } }
        var rng = SeededRNG(seed: 5)
        for b in batches {
            let x = rng.floats(b * perSample.reduce(1, *), -2...2)
            let got = try runner.run(["x": Tensor(name: "x", dims: [b] + perSample, floats: x)])[0]
            let want = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [b] + perSample, data: x.map(Double.init)))
            #expect(got.dims == want.shape, "batch \(b): shape \(got.dims), reference \(want.shape)", sourceLocation: sourceLocation)
            #expect(got.floats?.map(Double.init) == want.data, "batch \(b): values differ from the reference", sourceLocation: sourceLocation)
        }
    }

    /// Whether the plan runs any number of samples (every step per unit, shapes scale).
    func polymorphic(_ graph: Graph, opset: Int) throws -> Bool {
        let (name, perSample) = try ShapeInference.inputSignature(graph)
        return try Compilation(graph: graph, opset: opset, inputs: [name: PlanValue(shape: [1] + perSample)],
                               inputNames: [name], memoryLimit: Executor.defaultMemoryLimit).polymorphic
    }

    func ints64(_ name: String, _ v: [Int64]) -> Tensor { Tensor(name: name, dims: [v.count], int64s: v) }

    // MARK: Transpose

    @Test(arguments: [[0, 2, 3, 1], [0, 3, 1, 2], [0, 1, 2, 3], [0, 2, 1, 3]])
    func transposeKeepingTheBatch(perm: [Int]) throws {
        var n = Net([2, 3, 4])
        n.op("Transpose", ["x"], "y", [ints("perm", perm)])
        for b in [1, 5, 150] { try expectMatchesReference(n.graph, batch: b, tolerance: 0, opset: 13) }
        #expect(try polymorphic(n.graph, opset: 13))
    }

    @Test func transposeMovingTheBatchRunsWholeTensors() throws {
        var n = Net([2, 3, 4])
        n.op("Transpose", ["x"], "y")  // default: reversed
        try expectRunnerMatches(n.graph, opset: 7)
        #expect(try !polymorphic(n.graph, opset: 7))
        var m = Net([2, 3, 4])
        m.op("Transpose", ["x"], "y", [ints("perm", [1, 0, 2, 3])])
        try expectRunnerMatches(m.graph, opset: 21)
    }

    @Test func largeCopiesSplitOverTheCores() throws {
        // 16·64·80 = 81920 floats per sample ≥ IndexedCopy.splitMinimum: the step splits itself.
        var n = Net([16, 64, 80])
        n.op("Transpose", ["x"], "y", [ints("perm", [0, 3, 1, 2])])
        let exec = try expectMatchesReference(n.graph, batch: 3, tolerance: 0, opset: 13)
        #expect(exec.plan.steps.first?.traits.contains(.splitsItself) == true)
    }

    // MARK: Concat and Split

    @Test func concatAlongFeatures() throws {
        var n = Net([2, 3])
        n.op("Slice", ["x"], "s", [ints("starts", [1]), ints("ends", [3]), ints("axes", [2])])  // (N, 2, 2)
        n.op("Concat", ["x", "s", "x"], "y", [int("axis", 2)])  // (N, 2, 8)
        for b in [1, 5, 150] { try expectMatchesReference(n.graph, batch: b, tolerance: 0, opset: 7) }
        #expect(try polymorphic(n.graph, opset: 7))
        // A constant joins at batch 1 (its dim 0 is 1), along a negative axis from version 11.
        var m = Net([2, 3])
        m.weight("c", [1, 2, 5])
        m.op("Concat", ["x", "c"], "y", [int("axis", -1)])
        try expectRunnerMatches(m.graph, opset: 11, batches: [1])
    }

    @Test func concatAlongTheBatchIsNotPerSample() throws {
        var n = Net([2, 3])
        n.op("Concat", ["x", "x"], "y", [int("axis", 0)])
        try expectRunnerMatches(n.graph, opset: 13, batches: [1, 4])
        #expect(try !polymorphic(n.graph, opset: 13))
    }

    @Test func concatNegativeAxisNeedsVersion11() throws {
        var n = Net([2, 3])
        n.op("Concat", ["x", "x"], "y", [int("axis", -1)], name: "cat")
        #expect(throws: ModelError.self) { try ModelValidator.validate(n.graph, opset: 7); _ = try Executor(graph: n.graph, opset: 7) }
        #expect(throws: Never.self) { _ = try Executor(graph: n.graph, opset: 11) }
    }

    /// Split into (a, b) and Concat(b, a): every output of Split is checked.
    func splitThenSwap(_ opset: Int, split: [Int64]?, attribute: Bool, numOutputs: Int? = nil) -> Graph {
        var n = Net([5, 2])
        var inputs = ["x"]
        var attrs = [int("axis", 1)]
        if let split {
            if attribute { attrs.append(Attribute("split", .ints(split))) } else { n.initializers.append(ints64("s", split)); inputs.append("s") }
        }
        if let numOutputs { attrs.append(int("num_outputs", numOutputs)) }
        n.nodes.append(Node(name: "split", opType: "Split", inputs: inputs, outputs: ["a", "b"], attributes: attrs))
        n.op("Concat", ["b", "a"], "y", [int("axis", 1)])
        return n.graph
    }

    @Test func splitAtEachVersion() throws {
        try expectMatchesReference(splitThenSwap(7, split: [2, 3], attribute: true), batch: 5, tolerance: 0, opset: 7)
        try expectMatchesReference(splitThenSwap(13, split: [4, 1], attribute: false), batch: 150, tolerance: 0, opset: 13)
        // num_outputs 2 on 5: parts of ceil(5/2) = 3 and 2.
        let uneven = splitThenSwap(18, split: nil, attribute: false, numOutputs: 2)
        try expectMatchesReference(uneven, tolerance: 0, opset: 18)
        let exec = try Executor(graph: uneven, opset: 18)
        #expect(exec.stepSummaries.contains("split 3 at 0 on axis 1") && exec.stepSummaries.contains("split 2 at 3 on axis 1"))
    }

    @Test func splitRefusesWhatDoesNotAddUp() {
        #expect(throws: ModelError.self) { _ = try Executor(graph: splitThenSwap(13, split: [2, 2], attribute: false), opset: 13) }
        // Equal parts without split: 5 does not divide by 2.
        #expect(throws: ModelError.self) { _ = try Executor(graph: splitThenSwap(13, split: nil, attribute: false), opset: 13) }
    }

    // MARK: Squeeze and Unsqueeze

    @Test func unsqueezeThenSqueezeAtEachVersion() throws {
        // Opset 13: axes as inputs, negative allowed.
        var n = Net([3, 4])
        n.initializers += [ints64("ua", [1, -1]), ints64("sa", [-1])]
        n.op("Unsqueeze", ["x", "ua"], "u")  // (N, 1, 3, 4, 1)
        n.op("Squeeze", ["u", "sa"], "y")  // (N, 1, 3, 4)
        try expectMatchesReference(n.graph, batch: 150, tolerance: 0, opset: 13)
        let exec = try Executor(graph: n.graph, opset: 13)
        #expect(exec.stepCount == 0 && exec.outputShape == [1, 3, 4])
        // Opset 7: attributes, non-negative.
        var m = Net([3, 4])
        m.op("Unsqueeze", ["x"], "u", [ints("axes", [1, 4])])
        m.op("Squeeze", ["u"], "y", [ints("axes", [4])])
        try expectMatchesReference(m.graph, tolerance: 0, opset: 7)
        #expect(try Executor(graph: m.graph, opset: 7).outputShape == [1, 3, 4])
        // Opset 11: negative attributes.
        var k = Net([3, 4])
        k.op("Unsqueeze", ["x"], "u", [ints("axes", [-1])])
        k.op("Squeeze", ["u"], "y", [ints("axes", [-1])])
        try expectMatchesReference(k.graph, tolerance: 0, opset: 11)
    }

    @Test func negativeSqueezeAxesNeedVersion11() throws {
        var n = Net([3, 1])
        n.op("Squeeze", ["x"], "y", [ints("axes", [-1])], name: "sq")
        #expect(throws: ModelError.self) { _ = try Executor(graph: n.graph, opset: 7) }
        #expect(try Executor(graph: n.graph, opset: 11).outputShape == [3])
    }

    // MARK: Slice

    struct SliceCase: Sendable, CustomStringConvertible {
        var starts: [Int64], ends: [Int64], axes: [Int64]?, steps: [Int64]?
        var description: String { "starts \(starts) ends \(ends) axes \(axes ?? []) steps \(steps ?? [])" }
    }

    static let sliceCases: [SliceCase] = [
        SliceCase(starts: [1], ends: [3], axes: [2], steps: nil),
        SliceCase(starts: [0, 1], ends: [Int64.max, -1], axes: [1, 2], steps: [2, 1]),
        SliceCase(starts: [-1], ends: [Int64.min], axes: [-1], steps: [-1]),  // the last axis reversed
        SliceCase(starts: [10, -100], ends: [-10, 100], axes: [1, 2], steps: [-2, 3]),  // clamped
        SliceCase(starts: [2], ends: [0], axes: [3], steps: [-1]),
        SliceCase(starts: [0, 0], ends: [1, 9], axes: nil, steps: nil),  // default axes 0, 1
    ]

    @Test(arguments: sliceCases)
    func sliceWithInputs(_ c: SliceCase) throws {
        // Slicing dim 0 changes the batch: GraphRunner runs the whole tensor.
        let batchAxis = (c.axes ?? (0..<Int64(c.starts.count)).map { $0 }).contains(0)
        var n = Net([3, 4, 5])
        n.initializers += [ints64("st", c.starts), ints64("en", c.ends)]
        var inputs = ["x", "st", "en"]
        if let a = c.axes { n.initializers.append(ints64("ax", a)); inputs.append("ax") } else if c.steps != nil { inputs.append("") }
        if let s = c.steps { n.initializers.append(ints64("sp", s)); inputs.append("sp") }
        n.op("Slice", inputs, "y")
        if batchAxis {
            try expectRunnerMatches(n.graph, opset: 13, batches: [1, 5])
        } else {
            try expectMatchesReference(n.graph, batch: 5, tolerance: 0, opset: 13)
        }
    }

    @Test func sliceAttributesAtVersion1() throws {
        var n = Net([3, 4, 5])
        n.op("Slice", ["x"], "y", [ints("starts", [1, -3]), ints("ends", [100, -1]), ints("axes", [2, 3])])
        try expectMatchesReference(n.graph, tolerance: 0, opset: 7)
        #expect(try Executor(graph: n.graph, opset: 7).outputShape == [3, 3, 2])
        // Negative axes from version 11 only.
        var m = Net([3, 4, 5])
        m.initializers += [ints64("st", [1]), ints64("en", [3]), ints64("ax", [-1])]
        m.op("Slice", ["x", "st", "en", "ax"], "y")
        #expect(throws: ModelError.self) { _ = try Executor(graph: m.graph, opset: 10) }
        try expectMatchesReference(m.graph, tolerance: 0, opset: 11)
    }

    @Test func sliceReversingTheBatchIsNotPerSample() throws {
        // Step −1 on dim 0: the shapes scale with the batch but samples change places.
        var n = Net([2, 3])
        n.initializers += [ints64("st", [-1]), ints64("en", [Int64.min]), ints64("ax", [0]), ints64("sp", [-1])]
        n.op("Slice", ["x", "st", "en", "ax", "sp"], "y")
        #expect(try !polymorphic(n.graph, opset: 13))
        try expectRunnerMatches(n.graph, opset: 13, batches: [1, 4])
    }

    // MARK: Gather

    @Test func gatherAlongFeaturesWithNegativeIndices() throws {
        var n = Net([4, 3])
        n.initializers.append(Tensor(name: "i", dims: [2, 2], int32s: [2, -4, -1, 0]))
        n.op("Gather", ["x", "i"], "y", [int("axis", 1)])
        for b in [1, 5, 150] { try expectMatchesReference(n.graph, batch: b, tolerance: 0, opset: 13) }
        // Scalar indices on the last axis.
        var m = Net([4, 3])
        m.initializers.append(Tensor(name: "i", dims: [], int64s: [1]))
        m.op("Gather", ["x", "i"], "y", [int("axis", -1)])
        try expectMatchesReference(m.graph, tolerance: 0, opset: 11)
        #expect(try Executor(graph: m.graph, opset: 11).outputShape == [4])
    }

    @Test func gatherNegativeIndicesNeedVersion11() throws {
        var n = Net([4, 3])
        n.initializers.append(ints64("i", [-1]))
        n.op("Gather", ["x", "i"], "y", [int("axis", 1)], name: "g")
        #expect {
            _ = try Executor(graph: n.graph, opset: 7)
        } throws: { e in
            (e as? ModelError)?.problem.contains("index -1 of indices 'i' is out of range for dim 1 of length 4") ?? false
        }
    }

    @Test func gatherAlongTheBatch() throws {
        var n = Net([3])
        n.initializers.append(ints64("i", [0, 0]))
        n.op("Gather", ["x", "i"], "y", [int("axis", 0)])
        try expectRunnerMatches(n.graph, opset: 13, batches: [1, 3])
    }

    // MARK: Pad

    struct PadCase: Sendable, CustomStringConvertible {
        var mode: String, pads: [Int64], value: Float = 0, axes: [Int64]? = nil, opset = 13
        var description: String { "\(mode) \(pads) \(value) axes \(axes ?? []) opset \(opset)" }
    }

    static let padCases: [PadCase] = [
        PadCase(mode: "constant", pads: [0, 1, 2, 0, 0, 3, 0, 1], value: 1.5),
        PadCase(mode: "constant", pads: [0, -1, 1, 0, 0, 0, -2, 2]),  // crop and pad
        PadCase(mode: "reflect", pads: [0, 0, 2, 3, 0, 0, 3, 1]),
        PadCase(mode: "reflect", pads: [0, 0, 5, 0, 0, 0, 0, 9]),  // longer than the axis: repeated
        PadCase(mode: "edge", pads: [0, 2, 0, 1, 0, 1, 3, 0]),
        PadCase(mode: "edge", pads: [0, 0, -1, 2, 0, 0, 2, -2]),
        PadCase(mode: "wrap", pads: [0, 1, 3, 0, 0, 2, 1, 4], opset: 19),
        PadCase(mode: "constant", pads: [2, -1, 1, 0], value: -3, axes: [-1, 2], opset: 18),
        PadCase(mode: "reflect", pads: [1, 1], axes: [1], opset: 18),
    ]

    @Test(arguments: padCases)
    func padWithInputs(_ c: PadCase) throws {
        var n = Net([2, 3, 4])
        n.initializers.append(ints64("p", c.pads))
        n.initializers.append(Tensor(name: "v", dims: [], floats: [c.value]))
        var inputs = ["x", "p", "v"]
        if let a = c.axes { n.initializers.append(ints64("a", a)); inputs.append("a") }
        n.op("Pad", inputs, "y", [str("mode", c.mode)])
        for b in [1, 5, 150] { try expectMatchesReference(n.graph, batch: b, tolerance: 0, opset: c.opset) }
    }

    @Test(arguments: ["constant", "reflect", "edge"])
    func padAttributesAtVersion2(mode: String) throws {
        var n = Net([2, 3, 4])
        n.op("Pad", ["x"], "y", [str("mode", mode), ints("pads", [0, 1, 2, 1, 0, 0, 1, 2]), Attribute("value", .float(0.25))])
        try expectMatchesReference(n.graph, tolerance: 0, opset: 7)
        #expect(try Executor(graph: n.graph, opset: 7).outputShape == [3, 6, 7])
    }

    @Test func wrapNeedsVersion19() throws {
        var n = Net([3, 4])
        n.initializers.append(ints64("p", [0, 0, 1, 0, 0, 1]))
        n.op("Pad", ["x", "p"], "y", [str("mode", "wrap")], name: "pad")
        #expect(throws: ModelError.self) { try ModelValidator.validate(n.graph, opset: 18) }
        try expectMatchesReference(n.graph, tolerance: 0, opset: 19)
    }

    @Test func padOnTheBatchAxisRunsWholeTensors() throws {
        var n = Net([3])
        n.initializers.append(ints64("p", [1, 0, 0, 2]))
        n.op("Pad", ["x", "p"], "y", [str("mode", "edge")])
        try expectRunnerMatches(n.graph, opset: 13, batches: [1, 3])
    }

    // MARK: Expand and Tile

    @Test func expandKeepingTheBatch() throws {
        var n = Net([3, 1])
        n.initializers.append(ints64("s", [1, 1, 4]))
        n.op("Expand", ["x", "s"], "y")
        for b in [1, 5, 150] { try expectMatchesReference(n.graph, batch: b, tolerance: 0, opset: 8) }
        #expect(try Executor(graph: n.graph, opset: 8).outputShape == [3, 4])
        // More dims than the input: the batch is no longer dim 0.
        var m = Net([3, 1])
        m.initializers.append(ints64("s", [2, 1, 1, 4]))
        m.op("Expand", ["x", "s"], "y")
        try expectRunnerMatches(m.graph, opset: 13, batches: [1, 3])
    }

    @Test func tile() throws {
        var n = Net([2, 3])
        n.initializers.append(ints64("r", [1, 3, 2]))
        n.op("Tile", ["x", "r"], "y")
        for b in [1, 5, 150] { try expectMatchesReference(n.graph, batch: b, tolerance: 0, opset: 7) }
        // Repeating the batch: shapes scale, samples interleave: not per sample.
        var m = Net([2, 3])
        m.initializers.append(ints64("r", [2, 1, 1]))
        m.op("Tile", ["x", "r"], "y")
        #expect(try !polymorphic(m.graph, opset: 13))
        try expectRunnerMatches(m.graph, opset: 13, batches: [1, 3])
    }

    // MARK: Cast

    @Test func castAndCastLikeOfFloatAreTheInput() throws {
        var n = Net([3, 4])
        n.op("Cast", ["x"], "c", [int("to", Int(DataType.float))])
        n.op("CastLike", ["c", "x"], "y")
        let exec = try expectMatchesReference(n.graph, tolerance: 0, opset: 15)
        #expect(exec.stepCount == 0)
    }

    @Test func castOfRunTimeDataToAnIntegerIsRefusedByName() throws {
        var n = Net([3])
        n.op("Cast", ["x"], "y", [int("to", Int(DataType.int64))], name: "toInt")
        #expect {
            _ = try Executor(graph: n.graph, opset: 13)
        } throws: { e in
            (e as? ModelError)?.description == "node 'toInt' (Cast): computes the INT64 output 'y' from run-time data; bnc runs integer tensors only when they are known while planning"
        }
        var m = Net([3])
        m.op("Cast", ["x"], "y", [int("to", Int(DataType.double))], name: "toDouble")
        #expect {
            try ModelValidator.validate(m.graph, opset: 13)
        } throws: { e in
            (e as? ModelError)?.description == "node 'toDouble' (Cast) attribute 'to': is DOUBLE; bnc casts to FLOAT, INT64, INT32 and BOOL"
        }
    }
}

/// A data movement that changes nothing for a sample and leaves dim 0 alone is the input's
/// memory; one that moves dim 0 keeps its step (it is the identity for one sample only).
@Suite struct IdentityMovementTests {
    func ints64(_ name: String, _ v: [Int64]) -> Tensor { Tensor(name: name, dims: [v.count], int64s: v) }

    @Test func identitiesAreAliases() throws {
        var n = Net([3, 4])
        n.initializers += [ints64("s", [1, 3, 4]), ints64("r", [1, 1, 1]), ints64("st", [0]), ints64("en", [Int64.max]),
                           ints64("ax", [-1]), ints64("p", [0, 0, 0, 0, 0, 0])]
        n.op("Expand", ["x", "s"], "a")
        n.op("Tile", ["a", "r"], "b")
        n.op("Slice", ["b", "st", "en", "ax"], "c")
        n.op("Pad", ["c", "p"], "d")
        n.op("Transpose", ["d"], "y", [ints("perm", [0, 1, 2])])
        let exec = try expectMatchesReference(n.graph, tolerance: 0, opset: 13)
        #expect(exec.stepCount == 0)
    }

    @Test func aReversalIsNotAnAlias() throws {
        // One row of the input's length, read backwards: same size, not the identity.
        var n = Net([5])
        n.initializers += [ints64("st", [-1]), ints64("en", [Int64.min]), ints64("sp", [-1]), ints64("ax", [1])]
        n.op("Slice", ["x", "st", "en", "ax", "sp"], "y")
        let exec = try expectMatchesReference(n.graph, tolerance: 0, opset: 13)
        #expect(exec.stepCount == 1)
    }

    @Test func aBatchReversalIsNotAnAlias() throws {
        var n = Net([2])
        n.initializers += [ints64("st", [-1]), ints64("en", [Int64.min]), ints64("sp", [-1]), ints64("ax", [0])]
        n.op("Slice", ["x", "st", "en", "ax", "sp"], "y")
        let exec = try Executor(graph: n.graph, opset: 13)
        #expect(exec.stepCount == 1 && exec.batchCapacity == 1)
    }
}
