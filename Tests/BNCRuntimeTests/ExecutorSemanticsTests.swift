import BNCGraph
import BNCRuntime
import Foundation
import Testing

/// Operator semantics that slipped past the suite once (issue 19, test strength), checked
/// through the public `Executor(graph:…)` / `run` API only, against values worked out by
/// hand: max pooling with `ceil_mode` whose last window would start in the trailing padding,
/// Softmax without an `axis` attribute (the default depends on the opset), Dropout at
/// inference.
@Suite struct ExecutorSemanticsTests {
    static func graph(_ nodes: [Node], _ initializers: [Tensor] = [], input: [Int], output: [Int]) -> Graph {
        Graph(name: "t", nodes: nodes, initializers: initializers,
              inputs: [ValueInfo(name: "x", shape: [.param("N")] + input.map { .value(Int64($0)) })],
              outputs: [ValueInfo(name: "y", shape: [.param("N")] + output.map { .value(Int64($0)) })])
    }

    static func maxPool(size: Int, pads: [Int64]) -> Graph {
        graph([Node(name: "pool", opType: "MaxPool", inputs: ["x"], outputs: ["y"], attributes: [
            Attribute("kernel_shape", .ints([2, 2])), Attribute("strides", .ints([2, 2])),
            Attribute("pads", .ints(pads)), Attribute("ceil_mode", .int(1)),
        ])], input: [1, size, size], output: [1, 2, 2])
    }

    /// 5×5 of −1 … −25 (row-major), k2 s2 ceil_mode: ⌈3/2⌉ + 1 = 3 windows per axis; the last
    /// starts at 4, inside the input, and reaches past it: only index 4 counts (padding is
    /// −∞ for max, not 0), so the corner is −25.
    @Test func ceilModeKeepsALastWindowThatStartsInsideTheInput() throws {
        let exec = try Executor(graph: Self.maxPool(size: 5, pads: [0, 0, 0, 0]))
        #expect(exec.outputShapes == [[1, 3, 3]])
        let y = exec.run((1...25).map { -Float($0) })
        #expect(y == [-1, -3, -5, -11, -13, -15, -21, -23, -25])
    }

    /// 4×4 of 1 … 16 with one pixel of padding at the bottom and right, k2 s2 ceil_mode:
    /// ⌈(4 + 1 − 2)/2⌉ + 1 = 3 windows, but the third would start at 4, in the padding, and
    /// is dropped (ONNX, PyTorch): 2×2 of the windows' maxima.
    @Test func ceilModeDropsAWindowThatStartsInTheTrailingPadding() throws {
        let exec = try Executor(graph: Self.maxPool(size: 4, pads: [0, 0, 1, 1]))
        #expect(exec.outputShapes == [[1, 2, 2]])
        let y = exec.run((1...16).map { Float($0) })
        #expect(y == [6, 8, 14, 16])
    }

    /// Softmax of (N, 2, 3) without `axis`: opset 13 and later take the last axis (each row
    /// of 3 sums to 1); opsets 11 and before flatten from axis 1 (all 6 values sum to 1).
    @Test(arguments: [11, 13, 15])
    func softmaxWithoutAxisUsesTheOpsetsDefault(_ opset: Int) throws {
        let g = Self.graph([Node(name: "sm", opType: "Softmax", inputs: ["x"], outputs: ["y"])], input: [2, 3], output: [2, 3])
        let exec = try Executor(graph: g, opset: opset)
        let x: [Float] = [0, 1, 2, 3, 4, 5]
        let y = exec.run(x)
        func softmax(_ v: [Float]) -> [Double] {
            let e = v.map { exp(Double($0)) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        let expected = opset >= 13 ? softmax([0, 1, 2]) + softmax([3, 4, 5]) : softmax(x)
        for (a, b) in zip(y, expected) {
            // Float rounding of exp and the sum: a few ulps of values ≤ 1.
            #expect(abs(Double(a) - b) < 1e-6, "opset \(opset): \(y) vs \(expected)")
        }
    }

    /// Dropout at inference is the identity, bit for bit, whatever its ratio (attribute before
    /// opset 12, input from 12) and with `training_mode` absent.
    @Test(arguments: [7, 12, 15])
    func dropoutAtInferenceIsTheIdentity(_ opset: Int) throws {
        let node: Node
        var initializers: [Tensor] = []
        if opset < 12 {
            node = Node(name: "drop", opType: "Dropout", inputs: ["x"], outputs: ["y"], attributes: [Attribute("ratio", .float(0.9))])
        } else {
            initializers.append(Tensor(name: "ratio", dims: [], floats: [0.9]))
            node = Node(name: "drop", opType: "Dropout", inputs: ["x", "ratio"], outputs: ["y"])
        }
        let exec = try Executor(graph: Self.graph([node], initializers, input: [6], output: [6]), opset: opset)
        let x: [Float] = [-2.5, 0, 1, 3.25, 1e-30, 7]
        #expect(exec.run(x + x) == x + x)
    }
}
