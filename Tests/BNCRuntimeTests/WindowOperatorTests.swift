import BNCGraph
import BNCOps
import BNCTestSupport
import Testing

@testable import BNCRuntime

/// The window operators in 1, 2 and 3 spatial dimensions through the executor, against the
/// Double ReferenceEvaluator (Tests/BNCTestSupport/ReferenceWindows.swift), at the opset
/// each test names, for batches of 1, 5 and 150 (150 runs per-core slices), and one sample
/// at a time giving the batch's values.
///
/// Tolerance: 1e-5 of the output scale max(1, max |reference|). Convolutions sum K ≤ 216
/// Float products of inputs in [−2, 2] and weights in [−1, 1]; random signs keep the error
/// near √K·2⁻²⁴ of the sum of |terms|, well inside. Pools are one sum of ≤ 27 values and a
/// division; LRN adds a `powf`.
@Suite struct WindowOperatorTests {
    /// Validates against the schemas of `opset`, compiles, and compares with the reference.
    @discardableResult
    func expectRuns(
        _ graph: Graph, opset: Int = 22, batches: [Int] = [1, 5, 150], tolerance: Double = 1e-5,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Executor {
        try GraphValidator.validate(graph)
        try ModelValidator.validate(graph, opset: opset)
        let exec = try Executor(graph: graph, opset: opset, maxBatch: 64)
        for batch in batches {
            var rng = SeededRNG(seed: UInt64(batch) * 7 + 3)
            let x = rng.floats(batch * exec.inputCount, -2...2)
            let y = exec.run(x)
            let ref = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [batch] + exec.inputShape, data: x.map(Double.init)))
            #expect(ref.shape == [batch] + exec.outputShape, "shape \(ref.shape) vs \(exec.outputShape)", sourceLocation: sourceLocation)
            #expect(ref.count == y.count, "reference has \(ref.count) values, executor \(y.count)", sourceLocation: sourceLocation)
            guard ref.count == y.count else { continue }
            let scale = max(1, ref.data.map(abs).max() ?? 1)
            let err = zip(y, ref.data).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(err <= tolerance * scale, "batch \(batch): max |executor − reference| = \(err) (scale \(scale))",
                    sourceLocation: sourceLocation)
            if batch == 5 {
                var single: [Float] = []
                for i in 0..<batch { single += exec.run(Array(x[(i * exec.inputCount)..<((i + 1) * exec.inputCount)])) }
                let d = zip(y, single).map { abs($0 - $1) }.max() ?? 0
                #expect(Double(d) <= 1e-5 * scale, "batch vs one at a time differ by \(d)", sourceLocation: sourceLocation)
            }
        }
        return exec
    }

    /// The error of compiling `graph` at `opset` (schema check included), or nil.
    func compileError(_ graph: Graph, opset: Int = 22) -> ModelError? {
        do {
            try ModelValidator.validate(graph, opset: opset)
            _ = try Executor(graph: graph, opset: opset)
            return nil
        } catch {
            return error
        }
    }

    func expectRefused(
        _ graph: Graph, opset: Int = 22, place: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let e = compileError(graph, opset: opset) else {
            Issue.record("expected an error containing '\(text)'", sourceLocation: sourceLocation)
            return
        }
        #expect(e.place == place, "place \(e.place)", sourceLocation: sourceLocation)
        #expect(e.problem.contains(text), "problem \(e.problem)", sourceLocation: sourceLocation)
    }

    // MARK: Conv

    struct ConvCase: Sendable, CustomStringConvertible {
        var size: [Int], kernel: [Int], channels = 2, outputs = 3, group = 1
        var strides: [Int]? = nil, pads: [Int]? = nil, dilations: [Int]? = nil, autoPad: String? = nil, bias = true
        var description: String { "\(size) k\(kernel) g\(group) s\(strides ?? []) p\(pads ?? []) d\(dilations ?? []) \(autoPad ?? "")" }

        func net(_ op: String = "Conv") -> Net {
            var n = Net([channels] + size)
            let w = op == "Conv" ? [outputs, channels / group] + kernel : [channels, outputs / group] + kernel
            n.weight("w", w)
            if bias { n.weight("b", [outputs]) }
            var attrs = [int("group", group)]
            if let strides { attrs.append(ints("strides", strides)) }
            if let pads { attrs.append(ints("pads", pads)) }
            if let dilations { attrs.append(ints("dilations", dilations)) }
            if let autoPad { attrs.append(str("auto_pad", autoPad)) }
            n.op(op, bias ? ["x", "w", "b"] : ["x", "w"], "y", attrs, name: "c")
            return n
        }
    }

    static let convCases: [ConvCase] = [
        ConvCase(size: [9], kernel: [3]),
        ConvCase(size: [12], kernel: [3], channels: 4, outputs: 4, group: 2, strides: [2], pads: [2, 1], dilations: [2]),
        ConvCase(size: [10], kernel: [4], strides: [3], autoPad: "SAME_LOWER", bias: false),
        ConvCase(size: [4, 5, 6], kernel: [2, 3, 3]),
        ConvCase(size: [5, 6, 5], kernel: [3, 2, 3], channels: 4, outputs: 6, group: 2, strides: [2, 1, 2],
                 pads: [1, 0, 1, 0, 1, 1], dilations: [1, 2, 1]),
        ConvCase(size: [4, 4, 4], kernel: [3, 3, 3], strides: [2, 2, 2], autoPad: "SAME_UPPER"),
        ConvCase(size: [3, 4, 4], kernel: [1, 1, 1], channels: 3, outputs: 3, group: 3, bias: false),  // depthwise pointwise
    ]

    @Test(arguments: convCases)
    func conv(_ c: ConvCase) throws {
        try expectRuns(c.net().graph)
    }

    /// Conv 3-D → BN → Relu fuse into one step, as in 2-D.
    @Test func conv3DFusesBatchNormAndRelu() throws {
        var n = ConvCase(size: [4, 5, 5], kernel: [3, 3, 3], pads: [1, 1, 1, 1, 1, 1]).net()
        n.nodes[0].outputs = ["c0"]
        n.bn("c0", "c1", channels: 3)
        n.op("Relu", ["c1"], "y")
        let exec = try expectRuns(n.graph)
        #expect(exec.stepSummaries == ["conv 3×3×3 2→3 +bias +scale +relu"], "\(exec.stepSummaries)")
    }

    // MARK: ConvTranspose

    static let transposeCases: [ConvCase] = [
        ConvCase(size: [3, 4], kernel: [3, 3]),
        ConvCase(size: [3, 3], kernel: [3, 3], strides: [3, 2], pads: [1, 2, 1, 2]),
        ConvCase(size: [4, 3], kernel: [2, 3], channels: 4, outputs: 6, group: 2, strides: [2, 1], dilations: [1, 2]),
        ConvCase(size: [3, 3], kernel: [3, 3], strides: [2, 2], autoPad: "SAME_UPPER"),
        ConvCase(size: [3, 4], kernel: [2, 3], strides: [2, 3], autoPad: "SAME_LOWER", bias: false),
        ConvCase(size: [5], kernel: [3], strides: [2], pads: [1, 0]),
        ConvCase(size: [2, 3, 3], kernel: [2, 2, 3], channels: 4, outputs: 4, group: 2, strides: [2, 1, 2], pads: [0, 1, 1, 1, 0, 1]),
        ConvCase(size: [3, 3], kernel: [1, 1], channels: 3, outputs: 2),  // pointwise: col2im is the identity
    ]

    @Test(arguments: transposeCases)
    func convTranspose(_ c: ConvCase) throws {
        try expectRuns(c.net("ConvTranspose").graph)
    }

    /// output_padding and output_shape (larger than the taps reach, and cropping with an odd
    /// total padding) against the reference's ONNX-11 rule.
    @Test(arguments: [
        [ints("strides", [3, 2]), ints("output_padding", [1, 1])],
        [ints("strides", [3, 2]), ints("output_shape", [10, 8])],
        [ints("strides", [2, 2]), ints("output_shape", [6, 5])],
        [ints("strides", [2, 2]), ints("output_shape", [5, 6]), str("auto_pad", "SAME_UPPER")],
        [ints("strides", [2, 3]), ints("pads", [0, 1, 1, 0]), ints("output_padding", [1, 0]), ints("dilations", [1, 2])],
    ])
    func convTransposeOutputSize(_ attrs: [Attribute]) throws {
        var n = Net([2, 3, 3])
        n.weight("w", [2, 3, 3, 3])
        n.op("ConvTranspose", ["x", "w"], "y", attrs)
        try expectRuns(n.graph)
    }

    /// ConvTranspose-1 puts an odd total padding's extra pixel at the end, 11 at the
    /// beginning: the same node gives the reference of explicit pads [1, 1, 2, 2] at opset
    /// 10 and [2, 2, 1, 1] at opset 11 (total 3 in each dimension).
    @Test func convTransposeOutputShapeSplitFollowsTheVersion() throws {
        func net(_ attrs: [Attribute]) -> Net {
            var n = Net([1, 3, 3])
            n.weight("w", [1, 2, 3, 3])
            n.op("ConvTranspose", ["x", "w"], "y", [ints("strides", [2, 2])] + attrs)
            return n
        }
        // Full size 2·2 + 3 = 7, output 4: total 3.
        let shaped = net([ints("output_shape", [4, 4])])
        var x = SeededRNG(seed: 1)
        let input = x.floats(9)
        for (opset, pads) in [(10, [1, 1, 2, 2]), (11, [2, 2, 1, 1])] {
            let exec = try Executor(graph: shaped.graph, opset: opset)
            let explicit = try ReferenceEvaluator.run(net([ints("pads", pads)]).graph,
                                                      input: RefTensor(shape: [1, 1, 3, 3], data: input.map(Double.init)))
            let y = exec.run(input)
            let err = zip(y, explicit.data).map { abs(Double($0) - $1) }.max() ?? 1
            #expect(explicit.shape == [1, 2, 4, 4] && err < 1e-5, "opset \(opset): error \(err)")
        }
        // And ConvTranspose-1's SAME modes are refused by name.
        let same = net([str("auto_pad", "SAME_UPPER")])
        expectRefused(same.graph, opset: 10, place: "node 'convtranspose0' (ConvTranspose) attribute 'auto_pad'", containing: "from version 11")
        try expectRuns(same.graph, opset: 11, batches: [2])
    }

    /// ConvTranspose → BN → Relu is one step.
    @Test func convTransposeFusesBatchNormAndRelu() throws {
        var n = ConvCase(size: [3, 3], kernel: [3, 3], strides: [2, 2]).net("ConvTranspose")
        n.nodes[0].outputs = ["t0"]
        n.bn("t0", "t1", channels: 3)
        n.op("Relu", ["t1"], "y")
        let exec = try expectRuns(n.graph)
        #expect(exec.stepSummaries == ["convtranspose 3×3 2→3 +bias +scale +relu"], "\(exec.stepSummaries)")
    }

    @Test func convTransposeBadInput() {
        func net(_ w: [Int], _ attrs: [Attribute], size: [Int] = [2, 3, 3]) -> Graph {
            var n = Net(size)
            n.weight("w", w)
            n.op("ConvTranspose", ["x", "w"], "y", attrs, name: "t")
            return n.graph
        }
        expectRefused(net([2, 2, 3, 3], [ints("strides", [2, 2]), ints("output_padding", [2, 0])]), place: "node 't' (ConvTranspose)",
                      containing: "smaller than the stride")
        expectRefused(net([2, 2, 3, 3], [ints("pads", [5, 0, 5, 0])]), place: "node 't' (ConvTranspose)", containing: "leave no output")
        expectRefused(net([3, 2, 3, 3], []), place: "node 't' (ConvTranspose)", containing: "input channels")
        expectRefused(net([2, 2, 3, 3], [ints("output_padding", [0])]), place: "node 't' (ConvTranspose) attribute 'output_padding'",
                      containing: "1 values for 2 spatial")
        expectRefused(net([2, 2, 3, 3], [ints("pads", [-1, 0, 0, 0])]), place: "node 't' (ConvTranspose) attribute 'pads'",
                      containing: "must be in 0")
        // 10^12 output values per sample: refused while planning, before anything is allocated.
        expectRefused(net([2, 2, 1, 1], [ints("output_shape", [1 << 20, 1 << 20])]), place: "node 't' (ConvTranspose)",
                      containing: "2^40")
    }

    // MARK: MaxPool

    struct PoolCase: Sendable, CustomStringConvertible {
        var size: [Int], kernel: [Int], strides: [Int]? = nil, pads: [Int]? = nil, dilations: [Int]? = nil
        var ceil: Bool? = nil, autoPad: String? = nil, includePad: Bool? = nil
        var description: String {
            "\(size) k\(kernel) s\(strides ?? []) p\(pads ?? []) d\(dilations ?? []) ceil \(ceil.map(String.init) ?? "-") \(autoPad ?? "") pad \(includePad.map(String.init) ?? "-")"
        }

        func net(_ op: String) -> Net {
            var n = Net([2] + size)
            var attrs = [ints("kernel_shape", kernel)]
            if let strides { attrs.append(ints("strides", strides)) }
            if let pads { attrs.append(ints("pads", pads)) }
            if let dilations { attrs.append(ints("dilations", dilations)) }
            if let ceil { attrs.append(int("ceil_mode", ceil ? 1 : 0)) }
            if let autoPad { attrs.append(str("auto_pad", autoPad)) }
            if let includePad { attrs.append(int("count_include_pad", includePad ? 1 : 0)) }
            n.op(op, ["x"], "y", attrs, name: "p")
            return n
        }
    }

    static let poolCases: [PoolCase] = [
        PoolCase(size: [10], kernel: [3]),  // strides default to 1
        PoolCase(size: [11], kernel: [2], strides: [2], pads: [1, 0], ceil: true),
        PoolCase(size: [9], kernel: [3], strides: [2], dilations: [2], autoPad: "SAME_UPPER"),
        PoolCase(size: [4], kernel: [3], strides: [2], pads: [0, 2], ceil: true),  // a third window would start on the end pad
        PoolCase(size: [7, 7], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil: true),
        PoolCase(size: [6, 7], kernel: [2, 3], strides: [2, 2], autoPad: "SAME_LOWER"),
        PoolCase(size: [4, 5, 6], kernel: [2, 2, 2], strides: [2, 2, 2]),
        PoolCase(size: [5, 6, 7], kernel: [3, 2, 3], strides: [2, 1, 2], pads: [1, 0, 1, 1, 1, 0], dilations: [1, 2, 1], ceil: true),
        PoolCase(size: [5, 5, 5], kernel: [3, 3, 3], strides: [2, 2, 2], autoPad: "VALID"),
    ]

    @Test(arguments: poolCases)
    func maxPool(_ c: PoolCase) throws {
        try expectRuns(c.net("MaxPool").graph)
    }

    // MARK: AveragePool

    static let averageCases: [PoolCase] = poolCases + [
        PoolCase(size: [6, 6], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], includePad: true),
        PoolCase(size: [5, 6, 7], kernel: [3, 2, 3], strides: [2, 1, 2], pads: [1, 0, 1, 1, 1, 0], dilations: [1, 2, 1], ceil: true,
                 includePad: true),
        PoolCase(size: [9], kernel: [3], strides: [2], pads: [2, 2], includePad: true),
    ]

    @Test(arguments: averageCases)
    func averagePool(_ c: PoolCase) throws {
        try expectRuns(c.net("AveragePool").graph)
    }

    /// The classic bug: in ceil mode the last window runs past the end padding; with
    /// count_include_pad it is divided by its taps on the padded input (2 here), not by the
    /// kernel size (3). Input 6 (1…6), kernel 3, stride 2, pads 1 + 1: windows at −1, 1, 3, 5.
    @Test func averagePoolCeilModeLastWindow() throws {
        var n = Net([1, 6])
        n.op("AveragePool", ["x"], "y", [ints("kernel_shape", [3]), ints("strides", [2]), ints("pads", [1, 1]),
                                         int("ceil_mode", 1), int("count_include_pad", 1)])
        let exec = try Executor(graph: n.graph, opset: 11)
        #expect(exec.run([1, 2, 3, 4, 5, 6]) == [1, 3, 5, 3])
        // Without count_include_pad the last window averages its one input value.
        n.nodes[0].attributes[4] = int("count_include_pad", 0)
        #expect(try Executor(graph: n.graph, opset: 11).run([1, 2, 3, 4, 5, 6]) == [1.5, 3, 5, 6])
    }

    /// AveragePool-7 has no ceil_mode, 10 adds it; dilations come with 19.
    @Test func averagePoolVersions() throws {
        let ceil = PoolCase(size: [7, 7], kernel: [2, 2], strides: [2, 2], ceil: true).net("AveragePool").graph
        expectRefused(ceil, opset: 9, place: "node 'p' (AveragePool) attribute 'ceil_mode'", containing: "not an attribute of AveragePool-7")
        try expectRuns(ceil, opset: 10, batches: [2])
        let dilated = PoolCase(size: [7, 7], kernel: [2, 2], dilations: [2, 2]).net("AveragePool").graph
        expectRefused(dilated, opset: 18, place: "node 'p' (AveragePool) attribute 'dilations'", containing: "not an attribute of AveragePool-11")
        try expectRuns(dilated, opset: 19, batches: [2])
        try expectRuns(PoolCase(size: [8], kernel: [3], includePad: true).net("AveragePool").graph, opset: 7, batches: [2])
    }

    @Test func poolBadInput() {
        let graph = { (c: PoolCase) in c.net("AveragePool").graph }
        expectRefused(graph(PoolCase(size: [6, 6], kernel: [2])), place: "node 'p' (AveragePool) attribute 'kernel_shape'",
                      containing: "1 values for the 2 spatial")
        expectRefused(graph(PoolCase(size: [6, 6], kernel: [2, 2], pads: [2, 0, 0, 0])), place: "node 'p' (AveragePool)",
                      containing: "smaller than the kernel")
        expectRefused(graph(PoolCase(size: [6, 6], kernel: [2, 2], strides: [0, 1])), place: "node 'p' (AveragePool) attribute 'strides'",
                      containing: "must be in 1")
        expectRefused(graph(PoolCase(size: [6, 6], kernel: [2, 2], strides: [1 << 40, 1])), place: "node 'p' (AveragePool) attribute 'strides'",
                      containing: "must be in 1")
        expectRefused(graph(PoolCase(size: [3, 3], kernel: [4, 4])), place: "node 'p' (AveragePool)", containing: "more than the padded input")
        expectRefused(graph(PoolCase(size: [6, 6], kernel: [2, 2], ceil: true, autoPad: "SAME_UPPER")),
                      place: "node 'p' (AveragePool) attribute 'ceil_mode'", containing: "explicit pads only")
        expectRefused(graph(PoolCase(size: [2, 2, 2, 2], kernel: [1, 1, 1, 1])), place: "node 'p' (AveragePool) attribute 'kernel_shape'",
                      containing: "1-D, 2-D and 3-D")
    }

    /// Conv → Relu → MaxPool 2×2 still fuses (the 2-D fast path), and a 3-D one does not.
    @Test func twoDimensionalPoolStillFusesIntoConv() throws {
        var n = Net([2, 8, 8])
        n.weight("w", [3, 2, 3, 3])
        n.op("Conv", ["x", "w"], "c", [ints("pads", [1, 1, 1, 1])])
        n.op("Relu", ["c"], "r")
        n.op("MaxPool", ["r"], "y", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        #expect(try expectRuns(n.graph).stepSummaries == ["conv 3×3 2→3 +relu +pool"])
        var m = Net([2, 4, 8, 8])
        m.weight("w", [3, 2, 3, 3, 3])
        m.op("Conv", ["x", "w"], "c", [ints("pads", [1, 1, 1, 1, 1, 1])])
        m.op("Relu", ["c"], "r")
        m.op("MaxPool", ["r"], "y", [ints("kernel_shape", [2, 2, 2]), ints("strides", [2, 2, 2])])
        #expect(try expectRuns(m.graph).stepSummaries == ["conv 3×3×3 2→3 +relu", "maxpool 2×2×2"])
    }

    // MARK: Global pools

    @Test(arguments: [[5], [3, 4], [2, 3, 4]], ["GlobalAveragePool", "GlobalMaxPool"])
    func globalPool(_ spatial: [Int], _ op: String) throws {
        var n = Net([3] + spatial)
        n.op(op, ["x"], "y")
        let exec = try expectRuns(n.graph, opset: 13)
        #expect(exec.outputShape == [3] + spatial.map { _ in 1 })
        try expectRuns(n.graph, opset: 22, batches: [2])
    }

    @Test func globalPoolNeedsSpatialDims() {
        var n = Net([3])
        n.op("GlobalAveragePool", ["x"], "y", name: "g")
        expectRefused(n.graph, place: "node 'g' (GlobalAveragePool)", containing: "rank 3 or more")
    }

    // MARK: LRN

    @Test(arguments: [
        [int("size", 5)],  // alpha, beta, bias by default
        [int("size", 4), Attribute("alpha", .float(0.02)), Attribute("beta", .float(0.5)), Attribute("bias", .float(2))],
        [int("size", 1), Attribute("alpha", .float(1))],
        [int("size", 9), Attribute("beta", .float(1))],
    ])
    func lrn(_ attrs: [Attribute]) throws {
        var n = Net([6, 3, 4])
        n.op("LRN", ["x"], "y", attrs)
        try expectRuns(n.graph, opset: 13)
        try expectRuns(n.graph, opset: 7, batches: [3])
    }

    @Test func lrnBadInput() {
        var n = Net([6, 3, 4])
        n.op("LRN", ["x"], "y", [], name: "l")
        expectRefused(n.graph, place: "node 'l' (LRN) attribute 'size'", containing: "required")
        n.nodes[0].attributes = [int("size", 0)]
        expectRefused(n.graph, place: "node 'l' (LRN) attribute 'size'", containing: "must be in 1")
        n.nodes[0].attributes = [int("size", 3), Attribute("beta", .float(.infinity))]
        expectRefused(n.graph, place: "node 'l' (LRN) attribute 'beta'", containing: "finite")
    }
}
