import BNCGraph
import BNCOps
import Testing

@testable import BNCRuntime

/// The elementwise, variadic, activation, LogSoftmax and reduction operators through the
/// executor, against the Double reference (`expectMatchesReference`: batch = one sample at a
/// time = chunked), at old and new opsets, with their fusions and their refusals.
///
/// Tolerance: `expectMatchesReference`'s 1e-5 of the output scale unless stated; each of
/// these computes an output from at most a few Float roundings and libm calls (≤ 12 ulp,
/// see the kernel tests) or a sum of ≤ 60 terms ((n + 1)·2⁻²³ ≈ 7e-6 of the terms' scale).
@Suite struct ElementwiseOperatorTests {
    // MARK: Binary operators

    static let constantShapes: [[Int]] = [[5], [1, 4, 1], [3, 1, 1], [], [1, 3, 4, 5], [4, 5]]

    /// x ∘ c and c ∘ x for every broadcast kind of a constant (per-channel, scalar, trailing,
    /// full); Sub, Add and Mul of a per-channel constant run as one affine step.
    @Test(arguments: ["Add", "Sub", "Mul", "Div", "Pow"], constantShapes)
    func binaryWithConstant(_ op: String, _ shape: [Int]) throws {
        for constantFirst in [false, true] {
            var n = Net([3, 4, 5])
            let positive = op == "Div" || op == "Pow"
            n.weight("c", shape, positive ? 0.25...2 : -1...1)
            n.op(op, constantFirst ? ["c", "x"] : ["x", "c"], "y")
            try expectMatchesReference(n.graph, range: positive ? 0.25...2 : -2...2)
        }
    }

    /// c − x as an affine step is x·(−1) + c: exact, and absorbed by the product before it.
    @Test func constantMinusRuntimeIsOneAffine() throws {
        var n = Net([3, 4, 4])
        n.weight("w", [2, 3, 3, 3])
        n.op("Conv", ["x", "w"], "h")
        n.weight("c", [2, 1, 1])
        n.op("Sub", ["c", "h"], "y")
        let exec = try expectMatchesReference(n.graph)
        #expect(exec.stepCount == 1, "\(exec.plan.steps.map(\.summary))")
    }

    /// Two computed operands, of one shape and broadcast against each other.
    @Test(arguments: ["Add", "Sub", "Mul", "Div", "Pow", "PRelu"])
    func binaryOfTwoComputedValues(_ op: String) throws {
        var n = Net([3, 4])
        n.weight("W", [4, 4])
        n.op("MatMul", ["x", "W"], "m")
        n.op("Exp", ["m"], "e")  // positive: a divisor and a base
        n.weight("W1", [4, 1])
        n.op("MatMul", ["x", "W1"], "m1")  // (N, 3, 1)
        switch op {
        case "PRelu": n.op(op, ["x", "m1"], "y")
        case "Pow": n.op(op, ["e", "m1"], "y")
        default: n.op(op, ["m", "e"], "t"); n.op(op, ["t", "m1"], "y")
        }
        for batch in [1, 5, 150] { try expectMatchesReference(n.graph, batch: batch) }
    }

    @Test(arguments: [[4], [3, 1], [1], [], [1, 3, 4]])
    func preluSlopes(_ slope: [Int]) throws {
        var n = Net([3, 4])
        n.weight("s", slope)
        n.op("PRelu", ["x", "s"], "y")
        for opset in [7, 9, 16] { try expectMatchesReference(n.graph, opset: opset) }
    }

    /// Pow with an integer exponent (version 12 on): a FLOAT constant of the same values.
    @Test func powWithIntegerExponent() throws {
        var n = Net([3, 4])
        n.initializers.append(Tensor(name: "e", dims: [4], int64s: [2, 3, 0, -1]))
        n.op("Pow", ["x", "e"], "y", name: "pow")
        try expectMatchesReference(n.graph, opset: 13, range: 0.5...2)
        expectRefused(n.graph, opset: 11, place: "node 'pow' (Pow)", containing: "Pow-7 needs it FLOAT")
    }

    // MARK: Variadic operators

    /// Sum, Max, Min, Mean of computed values and constants with broadcasting (version 8 on),
    /// of one input (the output is the input), and of equal shapes at opset 7 (version 6).
    @Test(arguments: ["Sum", "Max", "Min", "Mean"])
    func variadic(_ op: String) throws {
        var n = Net([3, 4])
        n.weight("W", [4, 4])
        n.op("MatMul", ["x", "W"], "h")
        n.weight("W1", [4, 1])
        n.op("MatMul", ["x", "W1"], "h1")
        n.weight("c", [4])
        n.op(op, ["x", "h", "c", "h1"], "y")
        for opset in [8, 13, 21] { try expectMatchesReference(n.graph, opset: opset) }
        for batch in [1, 150] { try expectMatchesReference(n.graph, batch: batch) }

        var one = Net([3, 4])
        one.op(op, ["x"], "y")
        let exec = try expectMatchesReference(one.graph)
        #expect(exec.stepCount == 0)

        var same = Net([3, 4])
        same.weight("W", [4, 4])
        same.op("MatMul", ["x", "W"], "h")
        same.op(op, ["x", "h", "x"], "y", name: "v")
        try expectMatchesReference(same.graph, opset: 7)

        same.nodes[1].inputs = ["x", "h", "W"]
        expectRefused(same.graph, opset: 7, place: "node 'v' (\(op))", containing: "\(op)-6 needs one shape (broadcasting from version 8)")
    }

    /// The residual join of ResNets: Sum + Relu is one pass after the product.
    @Test func sumThenReluIsOnePass() throws {
        var n = Net([6])
        n.weight("W", [6, 6])
        n.op("MatMul", ["x", "W"], "h")
        n.op("Sum", ["h", "x"], "s")
        n.op("Relu", ["s"], "y")
        let exec = try expectMatchesReference(n.graph, batch: 150)
        #expect(exec.stepCount == 2, "\(exec.plan.steps.map(\.summary))")
        #expect(exec.plan.steps.last?.summary == "add +relu")
    }

    // MARK: Activations

    static let unary: [(String, ClosedRange<Float>)] = [
        ("Neg", -2...2), ("Abs", -2...2), ("Sqrt", 0.01...4), ("Exp", -2...2), ("Log", 0.01...4), ("Reciprocal", 0.25...2),
        ("Floor", -3...3), ("Ceil", -3...3), ("Erf", -2...2), ("Sign", -2...2), ("Softplus", -5...5), ("Softsign", -2...2),
        ("Selu", -2...2), ("Celu", -2...2), ("ThresholdedRelu", -2...2), ("HardSigmoid", -4...4), ("LeakyRelu", -2...2),
        ("Elu", -2...2), ("Mish", -3...3), ("HardSwish", -4...4), ("Gelu", -3...3), ("Swish", -3...3),
    ]

    /// Every unary operator with its default attributes, at the first opset that has it and at
    /// the newest, for batches of 1, 5 and 150 (≥ 64: per-core slices).
    @Test(arguments: unary)
    func unaryDefaults(_ op: String, _ range: ClosedRange<Float>) throws {
        var n = Net([3, 7])
        n.op(op, ["x"], "y")
        let first = ["HardSwish": 14, "Mish": 18, "Gelu": 20, "Swish": 24, "Celu": 12, "ThresholdedRelu": 10, "Erf": 9, "Sign": 9][op] ?? 7
        for opset in [first, 28] { try expectMatchesReference(n.graph, opset: opset, range: range) }
        for batch in [1, 150] { try expectMatchesReference(n.graph, batch: batch, opset: 28, range: range) }
    }

    @Test func activationAttributes() throws {
        let cases: [(String, [Attribute], Int)] = [
            ("LeakyRelu", [Attribute("alpha", .float(0.2))], 7), ("Elu", [Attribute("alpha", .float(0.5))], 22),
            ("Selu", [Attribute("alpha", .float(2)), Attribute("gamma", .float(0.5))], 7), ("Celu", [Attribute("alpha", .float(2))], 12),
            ("ThresholdedRelu", [Attribute("alpha", .float(-0.3))], 22),
            ("HardSigmoid", [Attribute("alpha", .float(0.3)), Attribute("beta", .float(0.4))], 7),
            ("Gelu", [str("approximate", "tanh")], 20), ("Swish", [Attribute("alpha", .float(2))], 24),
        ]
        for (op, attrs, opset) in cases {
            var n = Net([3, 7])
            n.op(op, ["x"], "y", attrs)
            try expectMatchesReference(n.graph, opset: opset)
        }
    }

    // MARK: Clip

    /// Clip-6's attributes (absent: unbounded) and Clip-11+'s inputs (omitted: unbounded).
    @Test func clipAtEveryVersion() throws {
        var a = Net([3, 7])
        a.op("Clip", ["x"], "y", [Attribute("min", .float(-0.5)), Attribute("max", .float(1))])
        try expectMatchesReference(a.graph, opset: 7)
        var d = Net([3, 7])
        d.op("Clip", ["x"], "y")
        try expectMatchesReference(d.graph, opset: 7)
        for opset in [11, 12, 13] {
            for inputs in [["x", "lo", "hi"], ["x", "", "hi"], ["x", "lo"], ["x"], ["x", "hi", "lo"]] {
                var n = Net([3, 7])
                n.initializers += [Tensor(name: "lo", dims: [], floats: [-0.5]), Tensor(name: "hi", dims: [1], floats: [1.25])]
                n.op("Clip", inputs, "y")
                try expectMatchesReference(n.graph, opset: opset)
            }
        }
    }

    /// A bound computed at run time: an elementwise max and min (one sample: the bound is
    /// the sample's own mean).
    @Test func clipWithRuntimeBound() throws {
        var n = Net([3, 7])
        n.op("ReduceMean", ["x"], "m", [int("keepdims", 0)])
        n.initializers.append(Tensor(name: "hi", dims: [], floats: [1.5]))
        n.op("Clip", ["x", "m", "hi"], "y")
        let exec = try expectMatchesReference(n.graph, batch: 1, opset: 13)
        #expect(exec.plan.steps.map(\.summary).contains("max"))
    }

    /// ReLU6 = Clip(0, 6) runs in the product's epilogue, as Relu does, at either version.
    @Test func relu6FusesIntoConvAndGemm() throws {
        for opset in [7, 13] {
            var n = Net([2, 6, 6])
            n.weight("w", [3, 2, 3, 3], -3...3)
            n.weight("b", [3])
            n.op("Conv", ["x", "w", "b"], "c")
            if opset < 11 {
                n.op("Clip", ["c"], "y", [Attribute("min", .float(0)), Attribute("max", .float(6))])
            } else {
                n.initializers += [Tensor(name: "zero", dims: [], floats: [0]), Tensor(name: "six", dims: [], floats: [6])]
                n.op("Clip", ["c", "zero", "six"], "y")
            }
            let exec = try expectMatchesReference(n.graph, opset: opset)
            #expect(exec.stepCount == 1 && exec.plan.steps[0].summary.contains("clip(0.0, 6.0)"), "\(exec.plan.steps.map(\.summary))")
        }
        var g = Net([8])
        g.weight("W", [8, 5], -3...3)
        g.weight("C", [5])
        g.op("Gemm", ["x", "W", "C"], "h")
        g.op("Clip", ["h"], "y", [Attribute("min", .float(0)), Attribute("max", .float(6))])
        let exec = try expectMatchesReference(g.graph, opset: 9)
        #expect(exec.stepCount == 1)
    }

    // MARK: x·σ(x)

    /// EfficientNet's Swish, Mul(x, Sigmoid(x)) after Conv + BN: one pass, either operand order;
    /// a Sigmoid with another reader stays a step of its own.
    @Test func sigmoidTimesInputIsOnePass() throws {
        for order in [["h", "s"], ["s", "h"]] {
            var n = Net([2, 6, 6])
            n.weight("w", [4, 2, 3, 3])
            n.op("Conv", ["x", "w"], "c")
            n.bn("c", "h", channels: 4)
            n.op("Sigmoid", ["h"], "s")
            n.op("Mul", order, "y")
            let exec = try expectMatchesReference(n.graph, batch: 150)
            #expect(exec.stepCount == 1 && exec.plan.steps[0].summary.contains("+swish"), "\(exec.plan.steps.map(\.summary))")
        }
        var n = Net([3, 7])
        n.op("Sigmoid", ["x"], "s")
        n.op("Mul", ["x", "s"], "m")
        n.op("Add", ["m", "s"], "y")
        let exec = try expectMatchesReference(n.graph)
        #expect(exec.stepCount == 3)
        // σ(x)·σ(x) and σ(x)·h are not x·σ(x).
        var sq = Net([3, 7])
        sq.op("Sigmoid", ["x"], "s")
        sq.op("Mul", ["s", "s"], "y")
        try expectMatchesReference(sq.graph)
        var other = Net([3, 7])
        other.weight("W", [7, 7])
        other.op("MatMul", ["x", "W"], "h")
        other.op("Sigmoid", ["x"], "s")
        other.op("Mul", ["h", "s"], "y")
        try expectMatchesReference(other.graph)
    }

    // MARK: LogSoftmax

    @Test func logSoftmaxAtBothAxisRules() throws {
        for (opset, axis) in [(13, -1), (13, 1), (13, 2), (11, 1), (11, 2), (11, -1), (7, 1)] {
            var n = Net([3, 4])
            n.op("LogSoftmax", ["x"], "y", [int("axis", axis)])
            try expectMatchesReference(n.graph, opset: opset, range: -20...20)
            try expectMatchesReference(n.graph, batch: 150, opset: opset)
        }
        // Absent axis: 1 before 13 (the whole sample), −1 from 13.
        for opset in [11, 13] {
            var n = Net([3, 4])
            n.op("LogSoftmax", ["x"], "y")
            try expectMatchesReference(n.graph, opset: opset)
        }
    }

    // MARK: Reductions

    /// ReduceMean over the spatial axes is a global average pool; axes as attribute (13) and
    /// as input (18), kept or dropped, negative.
    @Test func reduceMeanAsGlobalPool() throws {
        for keep in [1, 0] {
            var a = Net([3, 4, 5])
            a.op("ReduceMean", ["x"], "y", [ints("axes", [2, -1]), int("keepdims", keep)])
            try expectMatchesReference(a.graph, opset: 13)
            var b = Net([3, 4, 5])
            b.shape("axes", [-2, 3])
            b.op("ReduceMean", ["x", "axes"], "y", [int("keepdims", keep)])
            try expectMatchesReference(b.graph, batch: 150, opset: 18)
        }
    }

    static let reduceOps = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                            "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]

    /// Every reduction over inner, trailing and split axes, at the last attribute version and
    /// the first input version.
    @Test(arguments: reduceOps)
    func reductions(_ op: String) throws {
        let axesInput = op == "ReduceSum" ? 13 : 18
        let range: ClosedRange<Float> = op == "ReduceLogSum" || op == "ReduceProd" ? 0.5...1.5 : -2...2
        for axes in [[1], [-1], [1, 3], [2, 3], [1, 2, 3]] {
            for keep in [0, 1] {
                // The sample's shape: (3, 4, 5) without the reduced axes, or with them as 1.
                let reduced = Set(axes.map { $0 < 0 ? $0 + 4 : $0 })
                let expected = [3, 4, 5].enumerated().compactMap { d, size in
                    reduced.contains(d + 1) ? (keep == 1 ? 1 : nil) : size
                }
                var a = Net([3, 4, 5])
                a.op(op, ["x"], "y", [ints("axes", axes), int("keepdims", keep)])
                let ea = try expectMatchesReference(a.graph, opset: axesInput - 1, range: range)
                var b = Net([3, 4, 5])
                b.shape("axes", axes.map(Int64.init))
                b.op(op, ["x", "axes"], "y", [int("keepdims", keep)])
                let eb = try expectMatchesReference(b.graph, opset: axesInput, range: range)
                #expect(ea.outputShape == expected && eb.outputShape == expected, "\(axes) keepdims \(keep)")
            }
        }
        var c = Net([3, 4, 5])
        c.op(op, ["x"], "y", [ints("axes", [1, 3])])
        for batch in [1, 150] { try expectMatchesReference(c.graph, batch: batch, opset: axesInput - 1, range: range) }
    }

    /// Absent axes reduce everything (one sample at a time here, the batch axis included);
    /// with noop_with_empty_axes nothing is reduced and each element passes through the
    /// mode's map (ReduceL2: |x|; ReduceMean: the input itself, no step).
    @Test func absentAxesAndNoop() throws {
        var a = Net([3, 4])
        a.op("ReduceSum", ["x"], "y")
        let exec = try expectMatchesReference(a.graph, batch: 1, opset: 13)
        #expect(exec.outputShape == [1, 1])
        for op in ["ReduceL2", "ReduceMean", "ReduceSumSquare", "ReduceLogSumExp"] {
            var n = Net([3, 4])
            n.op(op, ["x"], "y", [int("noop_with_empty_axes", 1)])
            let e = try expectMatchesReference(n.graph, opset: 18)
            #expect(e.stepCount == (op == "ReduceMean" || op == "ReduceLogSumExp" ? 0 : 1))
            var m = Net([3, 4])
            m.shape("none", [])
            m.op(op, ["x", "none"], "y", [int("noop_with_empty_axes", 1)])
            try expectMatchesReference(m.graph, opset: 18)
        }
    }

    /// A reduction over the batch axis is not per sample: the plan runs whole inputs.
    @Test func reductionOverTheBatchAxisRunsOneInputAtATime() throws {
        var n = Net([3, 4])
        n.op("ReduceMax", ["x"], "y", [ints("axes", [0, 2])])
        let exec = try Executor(graph: n.graph, opset: 13)
        #expect(exec.batchCapacity == 1)
    }

    // MARK: Integer arithmetic while planning

    /// Shape arithmetic: Div truncates toward zero (−7 / 4 = −1, 25 / 2 = 12), Sub, Mul, Max,
    /// Min and ReduceProd compute exactly; the result is Reshape's target.
    @Test func integerShapeArithmetic() throws {
        func run(_ build: (inout Net) -> Void) throws -> Executor {
            var n = Net([3, 4])
            build(&n)
            n.op("Reshape", ["x", "target"], "y")
            return try expectMatchesReference(n.graph, opset: 13)
        }
        var e = try run { n in
            n.shape("a", [-7, 25]); n.shape("b", [4, 2])
            n.op("Div", ["a", "b"], "target")
        }
        #expect(e.outputShape == [12])
        e = try run { n in
            n.shape("a", [3, 8]); n.shape("b", [3, 2]); n.shape("c", [0, 2])
            n.op("Sub", ["a", "b"], "d")  // [0, 6]
            n.op("Mul", ["d", "c"], "m")  // [0, 12]
            n.op("Max", ["m", "d"], "target")  // [0, 12]
        }
        #expect(e.outputShape == [12])
        e = try run { n in
            n.initializers.append(Tensor(name: "s", dims: [2, 2], int64s: [0, 3, 1, 4]))
            n.op("ReduceProd", ["s"], "target", [ints("axes", [0]), int("keepdims", 0)])  // [0, 12]
        }
        #expect(e.outputShape == [12])
    }

    /// A node whose output nothing reads (exports leave such branches) is not run, and does
    /// not stop the plan.
    @Test func deadNodeIsNotRun() throws {
        var n = Net([3, 4])
        n.op("Exp", ["x"], "unused")
        n.op("Relu", ["x"], "y")
        let exec = try expectMatchesReference(n.graph)
        #expect(exec.stepCount == 1)
    }

    // MARK: Bad input

    func expectRefused(_ g: Graph, opset: Int = 15, place: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Executor(graph: g, opset: opset)
            Issue.record("expected an error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.place == place, "place \(error.place)", sourceLocation: sourceLocation)
            #expect(error.problem.contains(text), "problem \(error.problem)", sourceLocation: sourceLocation)
        }
    }

    @Test func refusals() {
        func net(_ build: (inout Net) -> Void) -> Graph {
            var n = Net([3, 4])
            build(&n)
            return n.graph
        }
        expectRefused(net { n in n.weight("c", [3]); n.op("Sub", ["x", "c"], "y", name: "s") },
                      place: "node 's' (Sub)", containing: "shapes (1, 3, 4) and (3) do not broadcast")
        expectRefused(net { n in n.weight("c", [3]); n.op("PRelu", ["x", "c"], "y", name: "p") },
                      place: "node 'p' (PRelu)", containing: "does not broadcast to X (1, 3, 4)")
        expectRefused(net { n in n.weight("c", [2, 3, 4]); n.op("PRelu", ["x", "c"], "y", name: "p") },
                      place: "node 'p' (PRelu)", containing: "may not widen X")
        expectRefused(net { n in n.weight("c", [5]); n.op("Max", ["x", "x", "c"], "y", name: "m") },
                      place: "node 'm' (Max)", containing: "input shapes (1, 3, 4), (1, 3, 4), (5) do not broadcast")
        for axes: Int64 in [3, -4, .max, .min] {
            expectRefused(net { n in n.op("ReduceMean", ["x"], "y", [Attribute("axes", .ints([axes]))], name: "r") },
                          opset: 13, place: "node 'r' (ReduceMean)", containing: "axes value \(axes) is out of range for rank 3")
            expectRefused(net { n in n.shape("a", [axes]); n.op("ReduceSum", ["x", "a"], "y", name: "r") },
                          opset: 13, place: "node 'r' (ReduceSum)", containing: "axes value \(axes) is out of range for rank 3")
        }
        expectRefused(net { n in n.weight("a", [1]); n.op("ReduceL2", ["x", "a"], "y", name: "r") },
                      opset: 18, place: "node 'r' (ReduceL2)", containing: "axes input 'a' is FLOAT; it must be an integer tensor")
        expectRefused(net { n in n.initializers.append(Tensor(name: "a", dims: [1, 1], int64s: [1])); n.op("ReduceL2", ["x", "a"], "y", name: "r") },
                      opset: 18, place: "node 'r' (ReduceL2)", containing: "it must be 1-D")
        expectRefused(net { n in n.weight("lo", [2]); n.op("Clip", ["x", "lo"], "y", name: "c") },
                      opset: 13, place: "node 'c' (Clip)", containing: "min input 'lo' has shape (2); Clip takes one number")
        expectRefused(net { n in n.initializers.append(Tensor(name: "hi", dims: [], floats: [.nan])); n.op("Clip", ["x", "", "hi"], "y", name: "c") },
                      opset: 13, place: "node 'c' (Clip)", containing: "max input 'hi' is NaN")
        expectRefused(net { n in n.op("Clip", ["x"], "y", [Attribute("min", .float(.nan))], name: "c") },
                      opset: 7, place: "node 'c' (Clip) attribute 'min'", containing: "is NaN")
        expectRefused(net { n in n.op("Celu", ["x"], "y", [Attribute("alpha", .float(0))], name: "c") },
                      opset: 13, place: "node 'c' (Celu) attribute 'alpha'", containing: "is 0")
        expectRefused(net { n in n.op("LeakyRelu", ["x"], "y", [Attribute("alpha", .float(.infinity))], name: "l") },
                      place: "node 'l' (LeakyRelu) attribute 'alpha'", containing: "must be finite")
        expectRefused(net { n in n.op("Gelu", ["x"], "y", [str("approximate", "fast")], name: "g") },
                      opset: 20, place: "node 'g' (Gelu) attribute 'approximate'", containing: "is 'fast'")
        expectRefused(net { n in n.op("Gelu", ["x"], "y", name: "g") },
                      opset: 19, place: "node 'g' (Gelu)", containing: "first appears in opset 20")
        expectRefused(net { n in n.shape("e", [1 << 30]); n.op("Pow", ["x", "e"], "y", name: "p") },
                      opset: 15, place: "node 'p' (Pow)", containing: "beyond ±2²⁴")
        expectRefused(net { n in n.op("LogSoftmax", ["x"], "y", [int("axis", 3)], name: "l") },
                      opset: 13, place: "node 'l' (LogSoftmax)", containing: "out of range")
    }

    /// Each version's schema: the attributes that became inputs are refused in the other form
    /// at load (ModelValidator), by name and version.
    @Test func schemasPerVersion() {
        func expectInvalid(_ op: String, _ inputs: [String], _ attrs: [Attribute], opset: Int, _ text: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
            var n = Net([3, 4])
            n.shape("a", [1])
            n.op(op, inputs, "y", attrs, name: "n")
            do {
                try ModelValidator.validate(n.graph, opset: opset)
                Issue.record("expected an error", sourceLocation: sourceLocation)
            } catch {
                #expect(error.description.contains(text), "\(error.description)", sourceLocation: sourceLocation)
            }
        }
        expectInvalid("ReduceMean", ["x", "a"], [], opset: 17, "has 2 inputs; ReduceMean-13 takes 1")
        expectInvalid("ReduceMean", ["x"], [ints("axes", [1])], opset: 18, "attribute 'axes': is not an attribute of ReduceMean-18")
        expectInvalid("ReduceSum", ["x"], [ints("axes", [1])], opset: 13, "attribute 'axes': is not an attribute of ReduceSum-13")
        expectInvalid("ReduceMax", ["x"], [int("noop_with_empty_axes", 1)], opset: 17, "is not an attribute of ReduceMax-13")
        expectInvalid("Clip", ["x"], [Attribute("min", .float(0))], opset: 11, "attribute 'min': is not an attribute of Clip-11")
        expectInvalid("Clip", ["x", "a", "a"], [], opset: 10, "has 3 inputs; Clip-6 takes 1")
        expectInvalid("Sum", [], [], opset: 13, "has 0 inputs; Sum-13 takes 1 or more")
        expectInvalid("HardSwish", ["x"], [], opset: 13, "first appears in opset 14")
        expectInvalid("Gelu", ["x"], [str("approximate", "erf")], opset: 20, "attribute 'approximate': is 'erf'")
    }

    /// Integer arithmetic that overflows or divides by zero is refused while planning,
    /// naming the node and the values; types a version does not define are refused by name.
    @Test func integerRefusals() {
        func net(_ build: (inout Net) -> Void) -> Graph {
            var n = Net([3, 4])
            build(&n)
            n.op("Reshape", ["x", "t"], "y")
            return n.graph
        }
        expectRefused(net { n in n.shape("a", [12, 1]); n.shape("b", [0, 1]); n.op("Div", ["a", "b"], "t", name: "d") },
                      place: "node 'd' (Div)", containing: "of the INT64 values 12 and 0 is not defined")
        expectRefused(net { n in n.shape("a", [.min, 1]); n.shape("b", [-1, 1]); n.op("Div", ["a", "b"], "t", name: "d") },
                      place: "node 'd' (Div)", containing: "is not defined (overflow")
        expectRefused(net { n in
            n.initializers += [Tensor(name: "a", dims: [2], int32s: [65536, 1]), Tensor(name: "b", dims: [2], int32s: [65536, 1])]
            n.op("Mul", ["a", "b"], "t", name: "m")
        }, place: "node 'm' (Mul)", containing: "INT32 values 65536 and 65536 is not defined (overflow")
        expectRefused(net { n in n.shape("a", [.max, 1]); n.shape("b", [-1, 0]); n.op("Sub", ["a", "b"], "t", name: "s") },
                      place: "node 's' (Sub)", containing: "overflow")
        expectRefused(net { n in n.shape("a", [0, 12]); n.op("Max", ["a", "a"], "t", name: "m") },
                      opset: 9, place: "node 'm' (Max)", containing: "Max-8 is computed in FLOAT (integers from version 12)")
        expectRefused(net { n in n.shape("a", [0, 12]); n.op("Mean", ["a", "a"], "t", name: "m") },
                      opset: 13, place: "node 'm' (Mean)", containing: "Mean-13 is computed in FLOAT")
        expectRefused(net { n in n.shape("a", [.max, 2]); n.op("ReduceSum", ["a"], "t", [int("keepdims", 1)], name: "r") },
                      opset: 11, place: "node 'r' (ReduceSum)", containing: "overflows")
        expectRefused(net { n in n.shape("a", [0, 12]); n.op("ReduceMean", ["a"], "t", name: "r") },
                      opset: 13, place: "node 'r' (ReduceMean)", containing: "is INT64; bnc computes ReduceMean in FLOAT")
    }
}
