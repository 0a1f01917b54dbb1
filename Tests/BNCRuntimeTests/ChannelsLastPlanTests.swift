import BNCGraph
import BNCKernels
import BNCTestSupport
import Testing

@testable import BNCOps
@testable import BNCRuntime

/// Chains of oneDNN convolutions handing each other channels-last activations
/// (`PlanBuilder.orderChannelsLast`): which values the plan holds channels-last, and that the
/// outputs are the same bits as with every convolution reading and writing planes (only the
/// reorders differ: the same kernels see the same values), at batch 1 (each convolution halved
/// over the cores along its output channels, the halves placed into the channels-last output),
/// 5, 37 and 70, and agree with the Double reference to 1e-5 of the output scale (the
/// executor tests' tolerance, `expectMatchesReference`). Chains are forced on (`channelsLast:
/// true`) so that the AVX2 rerun of this suite (`tools/test`, oneDNN in nChw8c) checks the
/// reorders from and to channels-last around kernels that work in other blocks.
@Suite struct ChannelsLastPlanTests {
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

    /// The order each conv and pool runs in, by step summary prefix.
    func orders(_ e: Executor) -> [String] {
        zip(e.stepSummaries, e.stepKernels).filter { $0.0.hasPrefix("conv") || $0.0.hasPrefix("maxpool") || $0.0.hasPrefix("global") }.map { s, k in
            if k.hasSuffix("nhwc → nhwc") { return "cl→cl" }
            if k.hasSuffix("nchw → nhwc") { return "p→cl" }
            if k.hasSuffix("nhwc → nchw") { return "cl→p" }
            return k == "bnc nhwc" ? "cl" : "p"
        }
    }

    @Test func chainHoldsChannelsLastBetweenConvolutions() throws {
        let chained = try Executor(graph: Self.residual(broadcastMul: false).graph, options: PlanOptions(oneDNN: true, channelsLast: true))
        // c1 → pool → c2 → c3, shortcut, Add+ReLU (elementwise, no order of its own) → c4 → GAP
        // (which reads channels-last too).
        #expect(orders(chained) == ["p→cl", "cl", "cl→cl", "cl→cl", "cl→cl", "cl→cl", "cl"], "\(chained.stepSummaries) \(chained.stepKernels)")
        let planes = try Executor(graph: Self.residual(broadcastMul: false).graph, options: PlanOptions(oneDNN: true, channelsLast: false))
        #expect(orders(planes).allSatisfy { $0 == "p" }, "\(planes.stepKernels)")
        // A reader of planes only (the broadcast Mul) ends the chain before the Add: the Add's
        // operands and output go back to planes, the pool and the bottleneck stay channels-last.
        let cut = try Executor(graph: Self.residual(broadcastMul: true).graph, options: PlanOptions(oneDNN: true, channelsLast: true))
        #expect(orders(cut) == ["p→cl", "cl", "cl→cl", "cl→p", "cl→p", "p→cl", "cl"], "\(cut.stepSummaries) \(cut.stepKernels)")
    }

    @Test(arguments: [false, true])
    func chainGivesTheSameBits(broadcastMul: Bool) throws {
        let graph = Self.residual(broadcastMul: broadcastMul).graph
        try ModelValidator.validate(graph, opset: Int(Model.opsetWritten))
        let chained = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: true, channelsLast: true))
        let planes = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: true, channelsLast: false))
        var rng = SeededRNG(seed: 5)
        for batch in [1, 5, 37, 70] {
            let x = rng.floats(batch * chained.inputCount, -2...2)
            let a = chained.run(x), b = planes.run(x)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "batch \(batch): channels-last chain differs from planes")
            let ref = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [batch] + chained.inputShape, data: x.map(Double.init)))
            let scale = max(1, ref.data.map(abs).max() ?? 1)
            let err = zip(a, ref.data).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(a.count == ref.count && err <= 1e-5 * scale, "batch \(batch): max |chain − reference| = \(err) (scale \(scale))")
        }
    }

    /// bnc's own kernel on a convolution ordered channels-last at both ends (what runs if
    /// oneDNN has no primitive or fails at run time): image by image through planes, the
    /// same as the planes step on the transposed values.
    @Test func ownKernelRunsChannelsLastThroughPlanes() throws {
        let (c, m, h, w, n) = (5, 7, 6, 8, 3)
        let g = try ConvGeometry(window: Window(input: [h, w], kernel: [3, 3], padsBegin: [1, 0], padsEnd: [0, 1]), inChannels: c, outChannels: m)
        var rng = SeededRNG(seed: 3)
        let table = ValueTable()
        let x = table.runtime("x", shape: [1, c, h, w]), y = table.runtime("y", shape: [1, m, g.outHeight, g.outWidth])
        let k = table.constant(rng.floats(g.weightCount), shape: [m, c, 3, 3])
        let planes = ConvStep(x: x, y: y, geometry: g, batchPerUnit: 1, weight: k, shift: nil, table: table)
        let last = planes.ordered(input: .channelsLast, output: .channelsLast)
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
        for i in 0..<n { ChannelsLast.fromPlanes(Array(input[(i * inCount)..<((i + 1) * inCount)]), channels: c, spatial: h * w,
                                                 into: transposed.withUnsafeMutableBufferPointer { $0.baseAddress! + i * inCount }) }
        let want = run(planes, input), gotLast = run(last, transposed)
        var got = [Float](repeating: 0, count: want.count)
        for i in 0..<n { ChannelsLast.toPlanes(Array(gotLast[(i * outCount)..<((i + 1) * outCount)]), channels: m, spatial: g.outSpatial,
                                               into: got.withUnsafeMutableBufferPointer { $0.baseAddress! + i * outCount }) }
        let err = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        // The same im2col sums per image (batch 1 or n): equal to Float rounding of K = 45 terms.
        #expect(err <= 1e-5, "max |channels-last − planes| = \(err)")
        #expect(last.kernel == "bnc im2col, nhwc → nhwc")
    }
}
