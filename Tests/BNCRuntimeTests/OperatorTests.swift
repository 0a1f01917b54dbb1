import BNCGraph
import Testing

@testable import BNCRuntime

/// Each operator the executor runs, against the Double reference, batch-1 = batch-N.
@Suite struct OperatorTests {
    @Test(arguments: [
        (false, Float(1), Float(1), [Int]?.none), (true, 1, 1, [4]), (false, 0.5, 2, [1, 4]), (true, -1, 0.5, [1]),
        (false, 2, 1, []), (true, 1, 0, [4]),
    ] as [(Bool, Float, Float, [Int]?)])
    func gemm(transB: Bool, alpha: Float, beta: Float, bias: [Int]?) throws {
        var n = Net([6])
        n.weight("W", transB ? [4, 6] : [6, 4])
        if let bias { n.weight("C", bias) }
        n.op("Gemm", bias == nil ? ["x", "W"] : ["x", "W", "C"], "y",
             [int("transB", transB ? 1 : 0), Attribute("alpha", .float(alpha)), Attribute("beta", .float(beta))])
        try expectMatchesReference(n.graph)
    }

    @Test func matMulRank2AndRank3() throws {
        var n = Net([10])
        n.weight("W", [10, 7])
        n.op("MatMul", ["x", "W"], "y")
        try expectMatchesReference(n.graph)

        var m = Net([3, 10])
        m.weight("W", [10, 7])
        m.op("MatMul", ["x", "W"], "y")
        try expectMatchesReference(m.graph)

        var v = Net([10])
        v.weight("w", [10])
        v.op("MatMul", ["x", "w"], "y")
        try expectMatchesReference(v.graph)
    }

    @Test(arguments: [[5], [1, 5], [], [3, 1, 1], [1, 3, 1, 1], [1, 5], [3, 4, 1]])
    func addConstantBroadcast(constant: [Int]) throws {
        let perSample = constant.count >= 3 ? [3, 4, 5] : [4, 5]
        var n = Net(perSample)
        n.weight("c", constant)
        n.op("Add", ["x", "c"], "y")
        try expectMatchesReference(n.graph)
    }

    @Test func addTwoComputedValues() throws {
        var n = Net([6])
        n.weight("W", [6, 6])
        n.op("MatMul", ["x", "W"], "h")
        n.op("Add", ["h", "x"], "y")
        try expectMatchesReference(n.graph)

        // Broadcasting between two computed values: (N, 3, 4) + (N, 3, 1).
        var m = Net([3, 4])
        m.weight("W", [4, 1])
        m.op("MatMul", ["x", "W"], "h")
        m.op("Add", ["x", "h"], "y")
        try expectMatchesReference(m.graph)
    }

    struct ConvCase: Sendable, CustomStringConvertible {
        var group = 1, kernel = [3, 3], strides = [1, 1], pads: [Int]? = nil, dilations = [1, 1]
        var autoPad: String? = nil, bias = true, channels = 4, outputs = 6, size = [7, 8]
        var description: String { "g\(group) k\(kernel) s\(strides) p\(pads ?? []) d\(dilations) \(autoPad ?? "NOTSET") bias \(bias)" }
    }

    static let convCases: [ConvCase] = [
        ConvCase(),
        ConvCase(pads: [1, 1, 1, 1]),
        ConvCase(strides: [2, 2], pads: [1, 0, 2, 1], bias: false),
        ConvCase(dilations: [2, 1]),
        ConvCase(group: 2),
        ConvCase(group: 4, outputs: 8),  // depthwise ×2
        ConvCase(kernel: [1, 1]),
        ConvCase(strides: [2, 1], autoPad: "SAME_UPPER"),
        ConvCase(kernel: [2, 2], strides: [2, 2], autoPad: "SAME_LOWER"),
        ConvCase(autoPad: "VALID"),
    ]

    @Test(arguments: convCases)
    func conv(_ c: ConvCase) throws {
        var n = Net([c.channels] + c.size)
        n.weight("w", [c.outputs, c.channels / c.group] + c.kernel)
        if c.bias { n.weight("b", [c.outputs]) }
        var attrs = [int("group", c.group), ints("strides", c.strides), ints("dilations", c.dilations)]
        if let p = c.pads { attrs.append(ints("pads", p)) }
        if let a = c.autoPad { attrs.append(str("auto_pad", a)) }
        n.op("Conv", c.bias ? ["x", "w", "b"] : ["x", "w"], "y", attrs)
        try expectMatchesReference(n.graph, batch: 3)
    }

    @Test func batchNormRank2AndRank4() throws {
        var n = Net([5])
        n.bn("x", "y", channels: 5)
        try expectMatchesReference(n.graph)
        var m = Net([3, 4, 4])
        m.bn("x", "y", channels: 3)
        try expectMatchesReference(m.graph)
    }

    @Test(arguments: ["Relu", "Sigmoid", "Tanh", "Identity", "Dropout"])
    func pointwise(_ op: String) throws {
        var n = Net([3, 7])
        n.op(op, ["x"], "y")
        try expectMatchesReference(n.graph)
    }

    struct PoolCase: Sendable, CustomStringConvertible {
        var kernel = [2, 2], strides = [2, 2], pads: [Int]? = nil, dilations = [1, 1], ceil = false, autoPad: String? = nil
        var size = [7, 6]
        var description: String { "k\(kernel) s\(strides) p\(pads ?? []) d\(dilations) ceil \(ceil) \(autoPad ?? "NOTSET") on \(size)" }
    }

    static let poolCases: [PoolCase] = [
        PoolCase(size: [8, 6]),
        PoolCase(),
        PoolCase(ceil: true),
        PoolCase(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]),
        PoolCase(kernel: [3, 2], strides: [1, 2], dilations: [2, 1]),
        PoolCase(kernel: [3, 3], strides: [2, 2], ceil: true, size: [8, 8]),
        PoolCase(kernel: [3, 3], strides: [2, 2], autoPad: "SAME_UPPER"),
        PoolCase(kernel: [2, 2], strides: [1, 1], autoPad: "SAME_LOWER"),
        PoolCase(kernel: [3, 3], strides: [1, 1], autoPad: "VALID"),
    ]

    @Test(arguments: poolCases)
    func maxPool(_ c: PoolCase) throws {
        var n = Net([2] + c.size)
        var attrs = [ints("kernel_shape", c.kernel), ints("strides", c.strides), ints("dilations", c.dilations), int("ceil_mode", c.ceil ? 1 : 0)]
        if let p = c.pads { attrs.append(ints("pads", p)) }
        if let a = c.autoPad { attrs.append(str("auto_pad", a)) }
        n.op("MaxPool", ["x"], "y", attrs)
        try expectMatchesReference(n.graph, batch: 3)
    }

    @Test(arguments: [1, 2, -1])
    func flattenThenGemm(axis: Int) throws {
        var n = Net([2, 3, 4])
        n.op("Flatten", ["x"], "f", [int("axis", axis)])
        let width = axis == 1 ? 24 : axis == 2 ? 12 : 4
        n.weight("W", [width, 3])
        n.op(axis == 1 ? "Gemm" : "MatMul", ["f", "W"], "y")
        if axis == 1 {
            try expectMatchesReference(n.graph)
        } else {
            // Flatten at axis ≥ 2 puts rows of several samples in dim 0; still per sample.
            try expectMatchesReference(n.graph)
        }
    }

    @Test func reshapeWithZeroAndMinusOne() throws {
        var n = Net([2, 3, 4])
        n.shape("s", [0, -1])
        n.op("Reshape", ["x", "s"], "r")
        n.weight("W", [24, 5])
        n.op("Gemm", ["r", "W"], "y")
        try expectMatchesReference(n.graph)
    }

    @Test(arguments: [-1, 1, 2])
    func softmax(axis: Int) throws {
        var n = Net([3, 4])
        n.op("Softmax", ["x"], "y", [int("axis", axis)])
        try expectMatchesReference(n.graph)
    }
}
