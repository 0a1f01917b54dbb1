import BNCGraph
import BNCOps
import Testing

@testable import BNCRuntime

/// Untrusted attributes and inputs of the data-movement operators: each problem is one line
/// naming the node (and the attribute or input), thrown while validating or planning, before
/// anything is allocated from the file's sizes (a 10^12-element value would not fit in this
/// machine's memory, so reaching an allocation would crash the test).
@Suite struct TensorOperatorBadInputTests {
    /// The error validating and planning `graph` for one sample of x gives, or nil.
    func refusal(_ graph: Graph, opset: Int = 13) -> ModelError? {
        do {
            try GraphValidator.validate(graph)
            try ModelValidator.validate(graph, opset: opset)
            let perSample: [Int] = graph.inputs[0].shape!.dropFirst().map { if case .value(let v) = $0 { Int(v) } else { 0 } }
            let x = Tensor(name: "x", dims: [1] + perSample, floats: [Float](repeating: 1, count: perSample.reduce(1, *)))
            _ = try GraphRunner(graph: graph, opset: opset).run(["x": x])
            return nil
        } catch {
            return error
        }
    }

    /// Expects a one-line refusal at `place` whose problem contains `text`.
    func expectRefused(
        _ graph: Graph, opset: Int = 13, place: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let e = refusal(graph, opset: opset) else {
            Issue.record("not refused (expected \(place): …\(text)…)", sourceLocation: sourceLocation)
            return
        }
        #expect(e.place == place && e.problem.contains(text), "got: \(e.description)", sourceLocation: sourceLocation)
        #expect(!e.description.contains("\n"), sourceLocation: sourceLocation)
    }

    func ints64(_ name: String, _ v: [Int64]) -> Tensor { Tensor(name: name, dims: [v.count], int64s: v) }

    @Test func outOfRangeAxes() {
        var n = Net([2, 3])
        n.op("Concat", ["x", "x"], "y", [int("axis", 3)], name: "cat")
        expectRefused(n.graph, place: "node 'cat' (Concat) attribute 'axis'", "is 3; for rank 3 it must be in -3…2")

        var t = Net([2, 3])
        t.op("Transpose", ["x"], "y", [ints("perm", [0, 0, 1])], name: "tr")
        expectRefused(t.graph, place: "node 'tr' (Transpose) attribute 'perm'", "it must be a permutation of 0…2")

        var s = Net([2, 3])
        s.initializers.append(ints64("a", [1]))
        s.op("Squeeze", ["x", "a"], "y", name: "sq")
        expectRefused(s.graph, place: "node 'sq' (Squeeze)", "axis 1 of the input (1, 2, 3) has size 2")

        var u = Net([2, 3])
        u.initializers.append(ints64("a", [1, -4]))
        u.op("Unsqueeze", ["x", "a"], "y", name: "unsq")
        expectRefused(u.graph, place: "node 'unsq' (Unsqueeze)", "names axis -4 twice")
        var u2 = Net([2, 3])
        u2.initializers.append(ints64("a", [9]))
        u2.op("Unsqueeze", ["x", "a"], "y", name: "unsq")
        expectRefused(u2.graph, place: "node 'unsq' (Unsqueeze)", "axes [9] has 9, out of range for rank 4")

        var g = Net([2, 3])
        g.initializers.append(ints64("i", [0]))
        g.op("Gather", ["x", "i"], "y", [int("axis", -4)], name: "g")
        expectRefused(g.graph, place: "node 'g' (Gather)", "axis -4 is out of range for rank 3")

        var sp = Net([4])
        sp.op("Split", ["x"], "y", [int("axis", 2)], name: "split")
        expectRefused(sp.graph, place: "node 'split' (Split) attribute 'axis'", "is 2; for rank 2 it must be in -2…1")
    }

    @Test func gatherIndicesOutOfRange() {
        var n = Net([2, 3])
        n.initializers.append(Tensor(name: "i", dims: [2], int32s: [0, 3]))
        n.op("Gather", ["x", "i"], "y", [int("axis", 2)], name: "g")
        expectRefused(n.graph, place: "node 'g' (Gather)", "index 3 of indices 'i' is out of range for dim 2 of length 3")
        var f = Net([2, 3])
        f.weight("i", [1])
        f.op("Gather", ["x", "i"], "y", name: "g")
        expectRefused(f.graph, place: "node 'g' (Gather)", "indices input 'i' is FLOAT; it must be an integer tensor")
    }

    @Test func sliceStepZeroAndLengths() {
        var n = Net([2, 3])
        n.initializers += [ints64("s", [0]), ints64("e", [2]), ints64("a", [1]), ints64("p", [0])]
        n.op("Slice", ["x", "s", "e", "a", "p"], "y", name: "sl")
        expectRefused(n.graph, place: "node 'sl' (Slice)", "steps has 0 for axis 1")
        var m = Net([2, 3])
        m.initializers += [ints64("s", [0, 0]), ints64("e", [2])]
        m.op("Slice", ["x", "s", "e"], "y", name: "sl")
        expectRefused(m.graph, place: "node 'sl' (Slice)", "differ in length")
    }

    @Test func negativeOrOverflowingPads() {
        var n = Net([2, 3])
        n.initializers.append(ints64("p", [0, 0, -2, 0, 0, -2]))
        n.op("Pad", ["x", "p"], "y", name: "pad")
        expectRefused(n.graph, place: "node 'pad' (Pad)", "crop axis 2 of length 3 below zero")
        var o = Net([2, 3])
        o.initializers.append(ints64("p", [0, 0, Int64.max, 0, 0, Int64.max]))
        o.op("Pad", ["x", "p"], "y", name: "pad")
        expectRefused(o.graph, place: "node 'pad' (Pad)", "overflows axis 2")
        var c = Net([2, 3])
        c.initializers.append(ints64("p", [0, 1, 0, 1]))
        c.op("Pad", ["x", "p"], "y", name: "pad")
        expectRefused(c.graph, place: "node 'pad' (Pad)", "has 4 values; it needs 2 × 3")
        // 10^12 elements of padding on a run-time value: the plan's memory check.
        var h = Net([2, 3])
        h.initializers.append(ints64("p", [0, 0, 1_000_000, 0, 999_999, 0]))
        h.op("Pad", ["x", "p"], "y", name: "pad")
        expectRefused(h.graph, place: "node 'pad' (Pad)", "more than the executor's memory limit")
    }

    @Test func trillionElementShapes() {
        let huge: [Int64] = [1_000_000, 1_000_000]
        // Expand of a run-time value: the plan's memory limit.
        var e = Net([1])
        e.initializers.append(ints64("s", [1] + huge))
        e.op("Expand", ["x", "s"], "y", name: "ex")
        expectRefused(e.graph, place: "node 'ex' (Expand)", "more than the executor's memory limit of 2 GiB")
        // Expand, ConstantOfShape, Tile of constants: the planning limit.
        var ec = Net([1])
        ec.initializers += [Tensor(name: "one", dims: [], floats: [1]), ints64("s", huge)]
        ec.op("Expand", ["one", "s"], "big", name: "ex")
        ec.op("Add", ["x", "big"], "y")
        expectRefused(ec.graph, place: "node 'ex' (Expand)", "would have 1000000000000 elements computed while planning; bnc computes at most 67108864")
        var c = Net([1])
        c.initializers.append(ints64("s", huge))
        c.op("ConstantOfShape", ["s"], "big", name: "cos")
        c.op("Add", ["x", "big"], "y")
        expectRefused(c.graph, place: "node 'cos' (ConstantOfShape)", "would have 1000000000000 elements")
        var t = Net([1])
        t.initializers += [Tensor(name: "one", dims: [1, 1], floats: [1]), ints64("r", huge)]
        t.op("Tile", ["one", "r"], "big", name: "tile")
        t.op("Add", ["x", "big"], "y")
        expectRefused(t.graph, place: "node 'tile' (Tile)", "would have 1000000000000 elements")
        var r = Net([1])
        r.initializers += [Tensor(name: "s", dims: [], int64s: [0]), Tensor(name: "l", dims: [], int64s: [1 << 40]),
                           Tensor(name: "d", dims: [], int64s: [1])]
        r.op("Range", ["s", "l", "d"], "big", name: "range")
        r.op("Cast", ["big"], "bigf", [int("to", 1)])
        r.op("Add", ["x", "bigf"], "y")
        expectRefused(r.graph, place: "node 'range' (Range)", "make 1099511627776.0 values")
        // Overflowing products.
        var o = Net([1])
        o.initializers.append(ints64("s", [1 << 40, 1 << 40]))
        o.op("ConstantOfShape", ["s"], "big", name: "cos")
        o.op("Add", ["x", "big"], "y")
        expectRefused(o.graph, place: "node 'cos' (ConstantOfShape)", "more than 9223372036854775807 elements")
    }

    @Test func aConstantOfATrillionElements() {
        // A tensor claiming 10^12 elements (the loader refuses such files for their length;
        // the operator does not trust them either).
        var n = Net([1])
        let claim = Tensor(name: "v", dims: [1_000_000, 1_000_000], storage: .float([]))
        n.nodes.append(Node(name: "c", opType: "Constant", inputs: [], outputs: ["big"], attributes: [Attribute("value", .tensor(claim))]))
        n.op("Add", ["x", "big"], "y")
        expectRefused(n.graph, place: "node 'c' (Constant) attribute 'value'", "has shape (1000000, 1000000); bnc holds at most 67108864 elements")
    }

    @Test func constantValueAttributes() {
        var n = Net([1])
        n.nodes.append(Node(name: "c", opType: "Constant", inputs: [], outputs: ["k"],
                            attributes: [Attribute("value_float", .float(1)), Attribute("value_int", .int(1))]))
        n.op("Add", ["x", "k"], "y")
        expectRefused(n.graph, place: "node 'c' (Constant)", "has value_float, value_int of its value attributes; Constant takes exactly one")
        var s = Net([1])
        s.nodes.append(Node(name: "c", opType: "Constant", inputs: [], outputs: ["k"], attributes: [str("value_string", "hi")]))
        s.op("Add", ["x", "k"], "y")
        expectRefused(s.graph, place: "node 'c' (Constant) attribute 'value_string'", "is a string constant")
        // value_float is version 12's.
        expectRefused(n.graph, opset: 11, place: "node 'c' (Constant) attribute 'value_float'", "is not an attribute of Constant-11")
    }

    @Test func aCycleThroughAShapeSubgraph() {
        // r = Reshape(x, Shape(r)): the shape depends on the value it shapes.
        var n = Net([4])
        n.op("Shape", ["r"], "s", name: "shape")
        n.op("Reshape", ["x", "s"], "r", name: "reshape")
        n.op("Identity", ["r"], "y")
        #expect(throws: ModelError.self) { try GraphValidator.validate(n.graph) }
        // The planner refuses it on its own too (for graphs that skip the structural checks).
        #expect {
            _ = try GraphRunner(graph: n.graph, opset: 13).run(["x": Tensor(name: "x", dims: [1, 4], floats: [1, 2, 3, 4])])
        } throws: { e in
            (e as? ModelError)?.description == "node 'shape' (Shape): input 'r' is not defined before this node"
        }
    }

    @Test func splitPartsThatDoNotAddUp() {
        var n = Net([5])
        n.initializers.append(ints64("s", [2, 2]))
        n.nodes.append(Node(name: "split", opType: "Split", inputs: ["x", "s"], outputs: ["a", "b"], attributes: [int("axis", 1)]))
        n.op("Concat", ["a", "b"], "y", [int("axis", 1)])
        expectRefused(n.graph, place: "node 'split' (Split)", "split [2, 2] sums to 4, the input's dim 1 is 5")
        var m = Net([5])
        m.nodes.append(Node(name: "split", opType: "Split", inputs: ["x"], outputs: ["a", "b"], attributes: [int("axis", 1), int("num_outputs", 3)]))
        m.op("Concat", ["a", "b"], "y", [int("axis", 1)])
        expectRefused(m.graph, opset: 18, place: "node 'split' (Split) attribute 'num_outputs'", "is 3 but the node has 2 outputs")
    }
}

/// Nodes whose outputs nothing reads (found by the plan fuzzer: a BatchNormalization whose
/// output is not a graph output) are not lowered.
@Suite struct DeadNodeTests {
    @Test func aNodeNothingReadsIsSkipped() throws {
        var n = Net([2, 3])
        n.op("Transpose", ["x"], "unused", [ints("perm", [0, 2, 1])])
        n.bn("x", "unusedToo", channels: 2)
        n.op("Relu", ["x"], "y")
        let exec = try expectMatchesReference(n.graph, opset: 15)
        #expect(exec.stepSummaries == ["relu"])
    }
}
