import BNCGraph
import BNCKernels
import BNCTestSupport
import Testing

@testable import BNCOps
@testable import BNCRuntime

/// Chains of oneDNN convolutions handing each other activations in the chain's order
/// (`PlanBuilder.orderChains`), channels-last (AVX-512's) and channel blocks of 8 (AVX2's) and
/// 16: which values the plan holds in that order, and that the outputs are the same bits as
/// with every convolution reading and writing planes (only the reorders differ: the same
/// kernels see the same values), at batch 1 (each convolution halved over the cores along its
/// output channels, the halves put into the output in its order), 5, 37 and 70, and agree with
/// the Double reference to 1e-5 of the output scale (the executor tests' tolerance,
/// `expectMatchesReference`). Every order is forced (`chainOrder:`), whatever this CPU's
/// oneDNN works in, so that each run of the suite (and its AVX2 rerun in `tools/test`) checks
/// the reorders from and to each order around kernels that may work in another.
@Suite struct ChannelsLastPlanTests {
    static let chainOrders: [ActivationOrder] = [.channelsLast, .blocked(8), .blocked(16)]

    /// A ResNet-like block at 12×12: conv+ReLU, a 3×3/2 max-pool with pads, a bottleneck
    /// (1×1 + BN + ReLU, 3×3) added to a 1×1 shortcut, ReLU, a strided 3×3, then
    /// GlobalAveragePool → Gemm. `broadcastMul`: the residual sum goes through a per-channel
    /// Mul by a constant (a step that reads planes only) before the strided conv.
    static func residual(broadcastMul: Bool) -> Net {
        var n = Net([3, 12, 12], seed: 21)
        n.weight("k1", [16, 3, 3, 3]); n.weight("b1", [16])
        n.op("Conv", ["x", "k1", "b1"], "c1", [ints("pads", [1, 1, 1, 1])])
        n.op("Relu", ["c1"], "r1")
        n.op("MaxPool", ["r1"], "p1", [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1])])
        n.weight("k2", [32, 16, 1, 1], -0.5...0.5)
        n.op("Conv", ["p1", "k2"], "c2")
        n.bn("c2", "c2n", channels: 32)
        n.op("Relu", ["c2n"], "r2")
        n.weight("k3", [32, 32, 3, 3], -0.2...0.2)
        n.op("Conv", ["r2", "k3"], "c3", [ints("pads", [1, 1, 1, 1])])
        n.weight("ks", [32, 16, 1, 1], -0.5...0.5); n.weight("bs", [32])
        n.op("Conv", ["p1", "ks", "bs"], "sc")
        n.op("Add", ["c3", "sc"], "a")
        n.op("Relu", ["a"], "ra")
        var last = "ra"
        if broadcastMul {
            n.weight("cs", [32, 1, 1], 0.5...1.5)
            n.op("Mul", ["ra", "cs"], "m")
            last = "m"
        }
        n.weight("k4", [48, 32, 3, 3], -0.2...0.2)
        n.op("Conv", [last, "k4"], "c4", [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])])
        n.op("Relu", ["c4"], "r4")
        n.op("GlobalAveragePool", ["r4"], "g")
        n.op("Flatten", ["g"], "f")
        n.weight("W", [10, 48]); n.weight("b", [10])
        n.op("Gemm", ["f", "W", "b"], "y", [int("transB", 1)])
        return n
    }

    /// Three 3×3 convolutions, 3→16→12→16, with ReLU, then GlobalAveragePool → Gemm: 12
    /// channels are no whole number of blocks of 8 or 16.
    static func oddChannels() -> Net {
        var n = Net([3, 10, 10], seed: 8)
        n.weight("k1", [16, 3, 3, 3]); n.weight("k2", [12, 16, 3, 3], -0.3...0.3); n.weight("k3", [16, 12, 3, 3], -0.3...0.3)
        n.op("Conv", ["x", "k1"], "c1", [ints("pads", [1, 1, 1, 1])])
        n.op("Relu", ["c1"], "r1")
        n.op("Conv", ["r1", "k2"], "c2", [ints("pads", [1, 1, 1, 1])])
        n.op("Relu", ["c2"], "r2")
        n.op("Conv", ["r2", "k3"], "c3", [ints("pads", [1, 1, 1, 1])])
        n.op("GlobalAveragePool", ["c3"], "g")
        n.op("Flatten", ["g"], "f")
        n.weight("W", [4, 16]); n.weight("b", [4])
        n.op("Gemm", ["f", "W", "b"], "y", [int("transB", 1)])
        return n
    }

    /// The order each conv and pool runs in, by step summary prefix: "c" the chain's order
    /// (`order`), "p" planes.
    func orders(_ e: Executor, _ order: ActivationOrder) -> [String] {
        let c = order.name
        return zip(e.stepSummaries, e.stepKernels).filter { $0.0.hasPrefix("conv") || $0.0.hasPrefix("maxpool") || $0.0.hasPrefix("global") }.map { s, k in
            if k.hasSuffix("\(c) → \(c)") { return "c→c" }
            if k.hasSuffix("nchw → \(c)") { return "p→c" }
            if k.hasSuffix("\(c) → nchw") { return "c→p" }
            return k == "bnc \(c)" ? "c" : "p"
        }
    }

    @Test(arguments: chainOrders)
    func chainHoldsItsOrderBetweenConvolutions(order: ActivationOrder) throws {
        let chained = try Executor(graph: Self.residual(broadcastMul: false).graph, options: PlanOptions(oneDNN: true, chainOrder: order))
        // c1 → pool → c2 → c3, shortcut, Add+ReLU (elementwise, no order of its own) → c4 → GAP
        // (which reads the chain's order too).
        #expect(orders(chained, order) == ["p→c", "c", "c→c", "c→c", "c→c", "c→c", "c"], "\(chained.stepSummaries) \(chained.stepKernels)")
        let planes = try Executor(graph: Self.residual(broadcastMul: false).graph, options: PlanOptions(oneDNN: true, chainOrder: .planes))
        #expect(orders(planes, order).allSatisfy { $0 == "p" }, "\(planes.stepKernels)")
        // A reader of planes only (the broadcast Mul) ends the chain before the Add: the Add's
        // operands and output go back to planes, the pool and the bottleneck stay in the order.
        let cut = try Executor(graph: Self.residual(broadcastMul: true).graph, options: PlanOptions(oneDNN: true, chainOrder: order))
        #expect(orders(cut, order) == ["p→c", "c", "c→c", "c→p", "c→p", "p→c", "c"], "\(cut.stepSummaries) \(cut.stepKernels)")
        // 12 channels stay in planes in blocks (no whole blocks), in the order channels-last.
        let odd = try Executor(graph: Self.oddChannels().graph, options: PlanOptions(oneDNN: true, chainOrder: order))
        #expect(orders(odd, order) == (order == .channelsLast ? ["p→c", "c→c", "c→c", "c"] : ["p→c", "c→p", "p→c", "c"]),
                "\(odd.stepSummaries) \(odd.stepKernels)")
    }

    @Test(arguments: [0, 1, 2], chainOrders)
    func chainGivesTheSameBits(graphIndex: Int, order: ActivationOrder) throws {
        let graph = graphIndex == 2 ? Self.oddChannels().graph : Self.residual(broadcastMul: graphIndex == 1).graph
        try ModelValidator.validate(graph, opset: Int(Model.opsetWritten))
        let chained = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: true, chainOrder: order))
        let planes = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: true, chainOrder: .planes))
        var rng = SeededRNG(seed: 5)
        for batch in [1, 5, 37, 70] {
            let x = rng.floats(batch * chained.inputCount, -2...2)
            let a = chained.run(x), b = planes.run(x)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "batch \(batch): \(order.name) chain differs from planes")
            let ref = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [batch] + chained.inputShape, data: x.map(Double.init)))
            let scale = max(1, ref.data.map(abs).max() ?? 1)
            let err = zip(a, ref.data).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(a.count == ref.count && err <= 1e-5 * scale, "batch \(batch): max |chain − reference| = \(err) (scale \(scale))")
        }
    }

    /// bnc's own kernel on a convolution ordered in a chain's order at both ends (what runs if
    /// oneDNN has no primitive or fails at run time): image by image through planes, the
    /// same as the planes step on the reordered values.
    @Test(arguments: [(ActivationOrder.channelsLast, 5, 7), (.blocked(8), 8, 16)])
    func ownKernelRunsTheChainOrderThroughPlanes(order: ActivationOrder, c: Int, m: Int) throws {
        let (h, w, n) = (6, 8, 3)
        let g = try ConvGeometry(window: Window(input: [h, w], kernel: [3, 3], padsBegin: [1, 0], padsEnd: [0, 1]), inChannels: c, outChannels: m)
        var rng = SeededRNG(seed: 3)
        let table = ValueTable()
        let x = table.runtime("x", shape: [1, c, h, w]), y = table.runtime("y", shape: [1, m, g.outHeight, g.outWidth])
        let k = table.constant(rng.floats(g.weightCount), shape: [m, c, 3, 3])
        let planes = ConvStep(x: x, y: y, geometry: g, batchPerUnit: 1, weight: k, shift: nil, table: table)
        let last = planes.ordered(input: order, output: order)
        let inCount = c * h * w, outCount = m * g.outSpatial
        let input = rng.floats(n * inCount)
        func run(_ step: any Step, _ data: [Float]) -> [Float] {
            var arena = data + [Float](repeating: 0, count: n * outCount)
            var constants = table[k].constant!
            var scratch = [Float](repeating: 0, count: step.scratch(serial: false))
            let slots = [Slot(base: Slot.arena, offset: 0, stride: inCount), Slot(base: Slot.arena, offset: n * inCount, stride: outCount),
                         Slot(base: Slot.constants, offset: 0, stride: 0)]
            return arena.withUnsafeMutableBufferPointer { a in
                constants.withUnsafeMutableBufferPointer { cs in
                    scratch.withUnsafeMutableBufferPointer { s in
                        let bases = [a.baseAddress!, cs.baseAddress!, a.baseAddress!]
                        slots.withUnsafeBufferPointer { sl in
                            bases.withUnsafeBufferPointer { b in
                                step.run(Frame(slots: sl.baseAddress!, bases: b.baseAddress!, blockFirst: 0, scratch: s.baseAddress!),
                                         units: 0..<n, serial: false)
                            }
                        }
                    }
                }
                return Array(a[(n * inCount)...])
            }
        }
        var transposed = [Float](repeating: 0, count: input.count)
        for i in 0..<n { order.fromPlanes(Array(input[(i * inCount)..<((i + 1) * inCount)]), channels: c, spatial: h * w,
                                          into: transposed.withUnsafeMutableBufferPointer { $0.baseAddress! + i * inCount }) }
        let want = run(planes, input), gotLast = run(last, transposed)
        var got = [Float](repeating: 0, count: want.count)
        for i in 0..<n { order.toPlanes(Array(gotLast[(i * outCount)..<((i + 1) * outCount)]), channels: m, spatial: g.outSpatial,
                                        into: got.withUnsafeMutableBufferPointer { $0.baseAddress! + i * outCount }) }
        let err = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        // The same im2col sums per image (batch 1 or n): equal to Float rounding of K = 9·C terms.
        #expect(err <= 1e-5, "max |\(order.name) − planes| = \(err)")
        #expect(last.kernel == "bnc im2col, \(order.name) → \(order.name)")
    }
}
