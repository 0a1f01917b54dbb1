import BNCGraph
import BNCKernels
import BNCOps
import BNCTestSupport
import Testing

@testable import BNCRuntime

/// Convolutions through oneDNN (`DNNLConvolution`) against the Double reference evaluator
/// and against bnc's im2col kernel, on the shapes the executor lowers: 1-D, 2-D and 3-D,
/// groups and depthwise, strides, dilations, asymmetric pads, bias or none, an unfolded BN
/// (per-channel scale and shift post-ops), activations as post-ops and one oneDNN lacks
/// (applied after, in Swift), and a fused 2×2 max-pool in the blocked layout.
///
/// Tolerance: 1e-5 of the output scale against the Double reference, as for every executor
/// test (`expectMatchesReference`: Float sums of K ≤ 300 terms err ≈ K·2⁻²⁴ ≈ 2e-5 in the
/// worst case, far less in practice); both kernels meet it, so they agree to 2e-5 of the
/// scale. Batches of 1 (one image, whole machine), 5 and 37 (images split over bnc's two
/// threads inside the step; 37 = 16 + 2 sub-batches on one thread, 16 + 3 on the other) and
/// 70 (at least `Executor.splitThreshold`: a chunk split into per-core blocks) cover every
/// calling path.
@Suite struct OneDNNConvolutionTests {
    func expectOneDNNAgrees(_ graph: Graph, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ModelValidator.validate(graph, opset: Int(Model.opsetWritten))
        let on = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: true))
        let off = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: false))
        #expect(on.stepKernels.contains { $0.hasPrefix("onednn ") }, "no step runs on oneDNN: \(on.stepKernels)",
                sourceLocation: sourceLocation)
        #expect(!off.stepKernels.contains { $0.hasPrefix("onednn") }, sourceLocation: sourceLocation)
        var rng = SeededRNG(seed: 11)
        for batch in [1, 5, 37, 70] {
            let x = rng.floats(batch * on.inputCount, -2...2)
            let ref = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [batch] + on.inputShape, data: x.map(Double.init)))
            let scale = max(1, ref.data.map(abs).max() ?? 1)
            let yOn = on.run(x), yOff = off.run(x)
            #expect(yOn.count == ref.count && yOff.count == ref.count, sourceLocation: sourceLocation)
            let errOn = zip(yOn, ref.data).map { abs(Double($0) - $1) }.max() ?? .infinity
            let errOff = zip(yOff, ref.data).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(errOn <= 1e-5 * scale, "batch \(batch): max |oneDNN − reference| = \(errOn) (scale \(scale))",
                    sourceLocation: sourceLocation)
            #expect(errOff <= 1e-5 * scale, "batch \(batch): max |im2col − reference| = \(errOff) (scale \(scale))",
                    sourceLocation: sourceLocation)
            // Determinism: the same input gives the same bits on every run.
            let again = on.run(x)
            #expect(again.map(\.bitPattern) == yOn.map(\.bitPattern), "batch \(batch): a second run differs",
                    sourceLocation: sourceLocation)
        }
    }

    /// The CNN preset's shape: conv + unfolded BN (scale and shift post-ops) + ReLU + fused
    /// 2×2 max-pool, then conv + ReLU + fused pool.
    @Test func presetShape() throws {
        let graph = Net.smallCNN().graph
        try expectOneDNNAgrees(graph)
        let on = try Executor(graph: graph, options: PlanOptions(oneDNN: true))
        #expect(on.stepSummaries.filter { $0.hasPrefix("conv") && $0.hasSuffix("+pool") }.count == 2, "\(on.stepSummaries)")
        let convs = zip(on.stepSummaries, on.stepKernels).filter { $0.0.hasPrefix("conv") }
        #expect(convs.count == 2 && convs.allSatisfy { $0.1.hasPrefix("onednn ") }, "\(on.stepKernels)")
    }

    /// Stride 2, dilation 2, asymmetric pads, a 5×3 kernel, no bias; then a sigmoid post-op.
    @Test func stridedDilatedAsymmetric() throws {
        var n = Net([3, 17, 15])
        n.weight("k", [20, 3, 5, 3])
        n.op("Conv", ["x", "k"], "c", [ints("strides", [2, 1]), ints("dilations", [2, 2]), ints("pads", [2, 0, 3, 1])])
        n.op("Sigmoid", ["c"], "y")
        try expectOneDNNAgrees(n.graph)
    }

    /// Two groups with leaky ReLU; depthwise (group = channels) with tanh.
    @Test func groupedAndDepthwise() throws {
        var n = Net([8, 9, 9])
        n.weight("k1", [12, 4, 3, 3]); n.weight("b1", [12])
        n.op("Conv", ["x", "k1", "b1"], "c1", [int("group", 2), ints("pads", [1, 1, 1, 1])])
        n.op("LeakyRelu", ["c1"], "a1", [Attribute("alpha", .float(0.1))])
        n.weight("k2", [12, 1, 3, 3]); n.weight("b2", [12])
        n.op("Conv", ["a1", "k2", "b2"], "c2", [int("group", 12), ints("strides", [2, 2])])
        n.op("Tanh", ["c2"], "y")
        try expectOneDNNAgrees(n.graph)
    }

    /// 1-D and 3-D convolutions, each with an unfolded BN.
    @Test func oneAndThreeDimensions() throws {
        var a = Net([4, 30])
        a.weight("k", [6, 4, 5]); a.weight("kb", [6])
        a.op("Conv", ["x", "k", "kb"], "c", [ints("pads", [2, 1])])
        a.bn("c", "y", channels: 6)
        try expectOneDNNAgrees(a.graph)

        var b = Net([2, 5, 6, 7])
        b.weight("k", [4, 2, 3, 3, 3])
        b.op("Conv", ["x", "k"], "c", [ints("pads", [1, 1, 1, 1, 1, 1]), ints("strides", [1, 2, 1])])
        b.bn("c", "n", channels: 4)
        b.op("Relu", ["n"], "y")
        try expectOneDNNAgrees(b.graph)
    }

    /// An activation oneDNN has no post-op for (softplus) runs after the primitive, in Swift.
    @Test func activationWithoutPostOp() throws {
        var n = Net([3, 10, 10])
        n.weight("k", [16, 3, 3, 3]); n.weight("kb", [16])
        n.op("Conv", ["x", "k", "kb"], "c", [ints("pads", [1, 1, 1, 1])])
        n.op("Softplus", ["c"], "y")
        try expectOneDNNAgrees(n.graph)
        let on = try Executor(graph: n.graph, options: PlanOptions(oneDNN: true))
        #expect(on.stepSummaries == ["conv 3×3 3→16 +bias +softplus"], "\(on.stepSummaries)")
    }

    /// A residual block (a conv output read twice, an Add, a 3×3 pool that stays bnc's).
    @Test func residualBlock() throws {
        var n = Net([16, 9, 9])
        n.weight("k1", [16, 16, 3, 3], -0.3...0.3); n.weight("kb1", [16])
        n.op("Conv", ["x", "k1", "kb1"], "c1", [ints("pads", [1, 1, 1, 1])])
        n.op("Relu", ["c1"], "r1")
        n.weight("k2", [16, 16, 1, 1])
        n.op("Conv", ["r1", "k2"], "c2")
        n.op("Add", ["r1", "c2"], "s")
        n.op("MaxPool", ["s"], "y", [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1])])
        try expectOneDNNAgrees(n.graph)
    }

    /// One image of a convolution with at least 32 output channels runs as two halves along
    /// the output channels, one per thread (32 + 8 here, with a fused pool; 16 + 8 without).
    @Test func wideConvolutionHalvedForOneImage() throws {
        var n = Net([3, 10, 10])
        n.weight("k1", [40, 3, 3, 3])
        n.op("Conv", ["x", "k1"], "c1", [ints("pads", [1, 1, 1, 1])])
        n.bn("c1", "n1", channels: 40)
        n.op("Relu", ["n1"], "r1")
        n.op("MaxPool", ["r1"], "p1", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        n.weight("k2", [24, 40, 1, 1], -0.3...0.3); n.weight("kb2", [24])
        n.op("Conv", ["p1", "k2", "kb2"], "c2")
        n.op("Tanh", ["c2"], "y")
        try expectOneDNNAgrees(n.graph)
    }

    /// A one-channel image is padded to the ISA's channel block in oneDNN's blocked layouts (8
    /// on AVX2's jit kernels): a 1→1 7×7 convolution of a 96×96 image then writes
    /// 8·90²·4 ≈ 259 KB per image into scratch (it reads the one-channel source as it is), so a
    /// call takes 4 images, not 16, and its buffers stay within `callBytes`. On AVX-512 oneDNN
    /// writes this one's NCHW directly (a scratchpad of ~512 bytes an image): 16 a call.
    /// Results across several sub-batches per thread still match the reference.
    @Test func largeBlockedImagesTakeFewerImagesPerCall() throws {
        let g = try ConvGeometry(window: Window(input: [96, 96], kernel: [7, 7]), inChannels: 1, outChannels: 1)
        var rng = SeededRNG(seed: 5)
        let conv = try #require(DNNLConvolution(geometry: g, weight: rng.floats(49, -0.3...0.3), scale: nil, shift: nil,
                                                activation: .relu, pool: nil))
        #expect(conv.imagesPerCall == max(1, min(DNNLConvolution.subBatch, DNNLConvolution.callBytes / conv.bytesPerImage)))
        if DNNL.isa == "avx2" {
            #expect(conv.bytesPerImage >= 8 * 90 * 90 * 4, "\(conv.implementation): \(conv.bytesPerImage) bytes an image")
            #expect(conv.imagesPerCall < DNNLConvolution.subBatch, "\(conv.imagesPerCall) images per call")
        }
        // Buffers scale with the image count, oneDNN's scratchpad need not: within 2× of the aim.
        #expect(conv.scratchPerCall * 4 <= 2 * DNNLConvolution.callBytes || conv.imagesPerCall == 1,
                "\(conv.scratchPerCall) floats of scratch per call")
        var n = Net([1, 96, 96])
        n.weight("k", [1, 1, 7, 7], -0.3...0.3)
        n.op("Conv", ["x", "k"], "c")
        n.op("Relu", ["c"], "y")
        try expectOneDNNAgrees(n.graph)
    }
}

/// The fused 2×2/2 pool against the same convolution unpooled, then bnc's plain max-pool
/// (`MaxPooling.forward`). Both sides run the same convolution primitive (its output
/// reordered exactly to NCHW, or pooled in its own layout first), and max only selects, so the
/// results are the same bits: 12 channels (a padded last block in nChw8c/16c), odd sizes
/// (9×11 → 4×5, floor mode), NaN in one image, 1, 5 and 20 images (two sub-batches); without
/// a scale, with positive scales (applied in Swift after the pool, with which they commute)
/// and with scales of both signs (binary post-ops before the pool under a fused pool; in Swift
/// on the unpooled side, the same multiply and add). Which
/// layout oneDNN writes depends on the CPU (nChw8c on AVX2, nhwc or nChw16c on AVX-512);
/// `BlockedPoolingTests` covers each layout's loop on any CPU.
@Suite struct OneDNNFusedPoolTests {
    @Test(arguments: [(12, 9, 11), (4, 10, 10), (40, 8, 8)], [0, 1, 2])
    func pooledMatchesConvolutionThenPool(_ size: (Int, Int, Int), scales: Int) throws {
        let (c, h, wd) = size
        let pool = try PoolGeometry(window: Window(input: [h, wd], kernel: [2, 2], strides: [2, 2]), channels: c)
        let g = try ConvGeometry(window: Window(input: [h, wd], kernel: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
                                 inChannels: 3, outChannels: c)
        var rng = SeededRNG(seed: 23)
        let w = rng.floats(g.weightCount, -0.5...0.5), b = rng.floats(c, -0.2...0.2)
        let scale: [Float]? = scales == 0 ? nil : scales == 1 ? rng.floats(c, 0.5...2) : rng.floats(c, -2...2)
        let pooled = try #require(DNNLConvolution(geometry: g, weight: w, scale: scale, shift: b, activation: .leakyRelu(alpha: 0.1), pool: pool))
        let plain = try #require(DNNLConvolution(geometry: g, weight: w, scale: scale, shift: b, activation: .leakyRelu(alpha: 0.1), pool: nil))
        let impl = try #require(pooled.poolImplementation)
        #expect(impl.hasPrefix("bnc "), "pool kernel \(impl)")
        for images in [1, 5, 20] {
            var x = rng.floats(images * 3 * h * wd, -2...2)
            if images == 5 { x[3 * h * wd + 40] = .nan }
            var yPooled = [Float](repeating: 0, count: images * c * pool.outSpatial)
            var yConv = [Float](repeating: 0, count: images * c * g.outSpatial)
            var yPlain = [Float](repeating: 0, count: yPooled.count)
            var scratch = [Float](repeating: 0, count: max(pooled.scratchPerCall, plain.scratchPerCall))
            #expect(pooled.forward(images: images, input: x, output: &yPooled, scratch: &scratch, parallel: false))
            #expect(plain.forward(images: images, input: x, output: &yConv, scratch: &scratch, parallel: false))
            MaxPooling.forward(pool, batch: images, input: yConv, output: &yPlain, argmax: nil, parallel: false)
            let same = zip(yPooled, yPlain).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
            #expect(same, "\(images) images: the fused pool (\(impl), conv \(pooled.implementation)) differs from conv + MaxPooling.forward")
            if images == 5 { #expect(yPooled.contains { $0.isNaN }, "the NaN did not reach the pooled output") }
        }
    }

    /// Only the 2×2/2 pool fuses (the executor fuses no other): any other window is refused,
    /// and the caller keeps its im2col kernel.
    @Test func otherWindowRefused() throws {
        let g = try ConvGeometry(window: Window(input: [9, 11], kernel: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
                                 inChannels: 3, outChannels: 12)
        let w = try Window(input: [9, 11], kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])
        let conv = DNNLConvolution(geometry: g, weight: [Float](repeating: 0.1, count: g.weightCount), scale: nil, shift: nil,
                                   activation: .relu, pool: try PoolGeometry(window: w, channels: 12))
        #expect(conv == nil)
    }
}
