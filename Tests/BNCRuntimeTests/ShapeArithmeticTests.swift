import BNCGraph
import BNCOps
import Testing

@testable import BNCRuntime

/// Integer tensors exist only while planning: Shape, Gather, Concat, Slice, Cast, … compute
/// them as values of the plan, in their own element type, with the batch of the plan.
@Suite struct ShapeArithmeticTests {
    func ints64(_ name: String, _ v: [Int64]) -> Tensor { Tensor(name: name, dims: [v.count], int64s: v) }

    /// A graph on input x (N, perSample…) with the given outputs.
    func graph(_ n: Net, outputs: [String]) -> Graph {
        var g = n.graph
        g.outputs = outputs.map { ValueInfo(name: $0, shape: nil) }
        return g
    }

    func run(_ g: Graph, opset: Int, batch: Int, perSample: [Int]) throws -> [Tensor] {
        try ModelValidator.validate(g, opset: opset)
        let x = Tensor(name: "x", dims: [batch] + perSample, floats: [Float](repeating: 0.5, count: batch * perSample.reduce(1, *)))
        return try GraphRunner(graph: g, opset: opset).run(["x": x])
    }

    @Test func shapeSeesThePlansBatch() throws {
        var n = Net([3, 4])
        n.op("Shape", ["x"], "s")
        n.nodes.append(Node(name: "tail", opType: "Shape", inputs: ["x"], outputs: ["t"],
                            attributes: [int("start", -2), int("end", 100)]))
        n.nodes.append(Node(name: "none", opType: "Shape", inputs: ["x"], outputs: ["e"],
                            attributes: [int("start", 2), int("end", 1)]))
        let g = graph(n, outputs: ["s", "t", "e"])
        for b in [1, 8] {
            let out = try run(g, opset: 15, batch: b, perSample: [3, 4])
            #expect(out[0].int64s == [Int64(b), 3, 4] && out[0].dims == [3])
            #expect(out[1].int64s == [3, 4])
            #expect(out[2].dims == [0] && out[2].int64s == [])
        }
        // Before version 15 there is no start/end.
        #expect(throws: ModelError.self) { try ModelValidator.validate(g, opset: 13) }
    }

    @Test func integerChainsAreComputedWhilePlanning() throws {
        var n = Net([2])
        n.initializers += [ints64("a", [10, 20, 30, 40]), Tensor(name: "i", dims: [2], int32s: [-1, 0]),
                           ints64("st", [-1]), ints64("en", [Int64.min]), ints64("ax", [0]), ints64("sp", [-2])]
        n.op("Gather", ["a", "i"], "g")  // [40, 10]
        n.op("Concat", ["g", "a"], "c", [int("axis", 0)])  // [40, 10, 10, 20, 30, 40]
        n.op("Slice", ["c", "st", "en", "ax", "sp"], "s")  // [40, 20, 10]
        n.op("Cast", ["s"], "s32", [int("to", Int(DataType.int32))])
        n.op("Cast", ["s32"], "f", [int("to", Int(DataType.float))])
        n.initializers.append(ints64("r", [2]))
        n.op("Tile", ["s32", "r"], "t")  // [40, 20, 10, 40, 20, 10]
        n.initializers.append(ints64("pp", [1, 2]))
        n.op("Pad", ["s", "pp"], "p", [str("mode", "reflect")])  // [20, 40, 20, 10, 20, 40]
        n.op("Unsqueeze", ["s", "ax"], "u")
        n.op("Transpose", ["u"], "tr")  // (3, 1)
        let out = try run(graph(n, outputs: ["s", "s32", "f", "t", "p", "tr"]), opset: 13, batch: 2, perSample: [2])
        #expect(out[0].int64s == [40, 20, 10])
        #expect(out[1].int32s == [40, 20, 10])
        #expect(out[2].floats == [40, 20, 10])
        #expect(out[3].int32s == [40, 20, 10, 40, 20, 10])
        #expect(out[4].int64s == [20, 40, 20, 10, 20, 40])
        #expect(out[5].dims == [3, 1] && out[5].int64s == [40, 20, 10])
    }

    @Test func castRules() throws {
        var n = Net([1])
        n.initializers += [Tensor(name: "f", dims: [4], floats: [-2.7, 2.7, 0, -0.0]), ints64("big", [(1 << 32) + 5, -1])]
        n.op("Cast", ["f"], "i", [int("to", Int(DataType.int64))])
        n.op("Cast", ["f"], "b", [int("to", Int(DataType.bool))])
        n.op("Cast", ["big"], "w", [int("to", Int(DataType.int32))])
        n.op("Cast", ["b"], "bf", [int("to", Int(DataType.float))])
        let out = try run(graph(n, outputs: ["i", "b", "w", "bf"]), opset: 13, batch: 1, perSample: [1])
        #expect(out[0].int64s == [-2, 2, 0, 0])  // toward zero
        #expect(out[1].bools == [true, true, false, false])  // ±0 is false
        #expect(out[2].int32s == [5, -1])  // low 32 bits
        #expect(out[3].floats == [1, 1, 0, 0])
        // Values ONNX leaves undefined are refused.
        for bad in [Float.nan, 3e9, -Float.infinity] {
            var m = Net([1])
            m.initializers.append(Tensor(name: "f", dims: [1], floats: [bad]))
            m.op("Cast", ["f"], "i", [int("to", Int(DataType.int32))], name: "cast")
            #expect {
                _ = try run(graph(m, outputs: ["i"]), opset: 13, batch: 1, perSample: [1])
            } throws: { e in
                (e as? ModelError)?.problem.hasPrefix("casts \(bad) to INT32") ?? false
            }
        }
    }

    @Test func constantsOfEveryForm() throws {
        var n = Net([1])
        n.nodes.append(Node(name: "a", opType: "Constant", inputs: [], outputs: ["a"], attributes: [Attribute("value_ints", .ints([3, 1, 2]))]))
        n.nodes.append(Node(name: "b", opType: "Constant", inputs: [], outputs: ["b"], attributes: [Attribute("value_float", .float(2.5))]))
        n.op("ConstantOfShape", ["a"], "c", [Attribute("value", .tensor(Tensor(name: "v", dims: [1], int32s: [7])))])
        n.initializers.append(ints64("e", []))
        n.op("ConstantOfShape", ["e"], "d")  // a FLOAT 0 scalar
        n.initializers += [Tensor(name: "r0", dims: [], floats: [1]), Tensor(name: "r1", dims: [], floats: [2]),
                           Tensor(name: "r2", dims: [], floats: [0.25])]
        n.op("Range", ["r0", "r1", "r2"], "r")
        let out = try run(graph(n, outputs: ["a", "b", "c", "d", "r"]), opset: 12, batch: 1, perSample: [1])
        #expect(out[0].int64s == [3, 1, 2] && out[0].dims == [3])
        #expect(out[1].floats == [2.5] && out[1].dims == [])
        #expect(out[2].dims == [3, 1, 2] && out[2].int32s == [Int32](repeating: 7, count: 6))
        #expect(out[3].dims == [] && out[3].floats == [0])
        #expect(out[4].floats == [1, 1.25, 1.5, 1.75])
    }

    @Test func integerGraphInputsArePlanTimeValues() throws {
        // Gather's indices fed as a graph input: each feed is planned with its values.
        var n = Net([4])
        n.op("Gather", ["x", "idx"], "y", [int("axis", 1)])
        var g = n.graph
        g.inputs.append(ValueInfo(name: "idx", elemType: DataType.int64, shape: [.value(2)]))
        let runner = GraphRunner(graph: g, opset: 13)
        let x = Tensor(name: "x", dims: [2, 4], floats: [0, 1, 2, 3, 10, 11, 12, 13])
        let a = try runner.run(["x": x, "idx": ints64("idx", [3, -4])])
        #expect(a[0].floats == [3, 0, 13, 10] && a[0].dims == [2, 2])
        let b = try runner.run(["x": x, "idx": ints64("idx", [1, 1])])
        #expect(b[0].floats == [1, 1, 11, 11])
    }

    @Test func emptyValuesKnownWhilePlanningFlowOn() throws {
        // A zero-length split part and an empty slice are values with no elements; a Concat
        // with them and a Reshape to the scalar shape [] still run.
        var n = Net([3])
        n.initializers += [ints64("parts", [3, 0]), ints64("st", [5]), ints64("en", [9]), ints64("ax", [1])]
        n.nodes.append(Node(name: "split", opType: "Split", inputs: ["x", "parts"], outputs: ["a", "z"], attributes: [int("axis", 1)]))
        n.op("Slice", ["x", "st", "en", "ax"], "s")  // (N, 0)
        n.op("Concat", ["z", "a", "s"], "y", [int("axis", 1)])
        let out = try run(graph(n, outputs: ["y", "z"]), opset: 13, batch: 2, perSample: [3])
        #expect(out[0].dims == [2, 3] && out[0].floats == [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
        #expect(out[1].dims == [2, 0] && out[1].floats == [])
    }
}
