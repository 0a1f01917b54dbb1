import CDNNL
import Synchronization

/// y (N, M, o…) = pool(act(conv(x (N, C, i…), W)·scale + shift)) through oneDNN's direct
/// convolution, for inference: what `Convolution.forward` computes with im2col + GEMM, in 1, 2
/// or 3 spatial dimensions with groups, strides, dilations and pads.
///
/// Made once per convolution when a plan is compiled: the weights are reordered once into the
/// layout the primitive prefers (`OIhw16i16o`-like blocks on AVX-512), the shift is the
/// primitive's bias (or, with a scale, two per-channel binary post-ops: acc·scale + shift, the
/// im2col epilogue's order; for convolutions of few products per output, `swiftAffineDepth`,
/// the same multiply and add in Swift after the primitive, with the activation), the
/// activation a post-op where oneDNN has it (ReLU, leaky ReLU, Clip, logistic, tanh, ELU,
/// swish, hard-swish, GELU; any other runs after, in Swift), and a
/// fused 2×2/2 max-pool (the only pool the executor fuses) runs in bnc's loops on the
/// convolution's own output layout (`BlockedPooling` on nChw8c/16c and nhwc, `MaxPooling` on
/// NCHW), before the output reorder, which then moves a quarter of the floats. Activations
/// enter and leave in the order the plan asks (`input`, `output`: bnc's NC(D)HW planes, or
/// the chain's order inside a chain of convolutions): a reorder into the primitive's layout
/// before and out of it after, skipped where the primitive reads or writes that order itself
/// (nhwc on AVX-512, nChw8c on AVX2: a chain's inner convolutions reorder nothing; a first
/// convolution with few input channels reads NCHW directly).
///
/// Calls run at most `imagesPerCall` images at a time (larger counts in sub-batches), so the
/// blocked buffers stay cache-sized and bounded: at most `subBatch` images, fewer where one
/// image's blocked buffers are large (`callBytes`; a one-channel image padded to the ISA's
/// 8 or 16 channel block takes 8–16 times its plain size). Primitives exist per image count
/// 1…imagesPerCall, made on first use and cached. Results for a given
/// image count are the same bits run to run (oneDNN's jit kernels on one thread do not
/// reorder sums by timing); across image counts they agree to rounding.
public final class DNNLConvolution: @unchecked Sendable {
    /// Images per oneDNN call at most.
    public static let subBatch = 16
    /// Bytes of blocked buffers (source, output, pooled output, scratchpad) one call aims at:
    /// L2-sized, so a call's activations stay in the core's cache.
    public static let callBytes = 1 << 20
    /// Products per output (C/G·k…) below which an unfolded BN's scale and shift run in Swift
    /// after the primitive instead of as binary post-ops. Measured on AVX2 (Zen 3, one
    /// thread): the post-ops made the CNN's first convolution (1 input channel, 3×3: 9
    /// products) four times slower, 10 → 40 µs an image, where the Swift pass over its output
    /// in cache takes about 1 µs. On ResNet-50 (147 to 4,608 products, outputs of up to 3 MB
    /// an image, past the cache) the post-ops added 15 % to the convolutions' time and the
    /// Swift pass as much (83 against 80 ms at batch 1, 589 against 607 at 8): there the
    /// post-ops stay, one pass over memory fewer.
    public static let swiftAffineDepth = 32
    /// Images per oneDNN call for this convolution: `subBatch`, or fewer so that a call's
    /// buffers stay within `callBytes` (at least 1).
    public let imagesPerCall: Int
    /// Bytes of a call's buffers per image (of `subBatch` images; scratchpad included), what
    /// `imagesPerCall` is sized by.
    public let bytesPerImage: Int

    public let geometry: ConvGeometry
    public let pool: PoolGeometry?
    /// The activation (a post-op where oneDNN has it, else applied after, in Swift).
    public let activation: Activation
    /// The order of x and of y.
    public let input: ActivationOrder, output: ActivationOrder
    /// Floats of scratch one call on one thread needs (≤ `imagesPerCall` images).
    public let scratchPerCall: Int
    /// Floats of one image's output (pooled when `pool`).
    public var outputPerImage: Int { geometry.outChannels * (pool?.outSpatial ?? geometry.outSpatial) }
    /// The convolution kernel oneDNN picked, e.g. "jit:avx512_core" (for reports and tests).
    public let implementation: String
    /// The fused pool's kernel and the layout it runs on: "bnc nChw8c", "bnc nChw16c",
    /// "bnc nhwc" (`BlockedPooling`) or "bnc nchw" (`MaxPooling`); nil without a pool.
    public let poolImplementation: String?

    private let engine: DNNLEngine
    private let contexts: DNNLContextPool
    private let weights: DNNLBuffer
    private let weightLayout: DNNLLayout
    /// Bias, post-ops and their operands, and the activation's part left to Swift.
    private let epilogue: DNNLEpilogue
    private let cache = Mutex<[Int: Kernels]>([:])
    /// For one image on both cores: the convolution cut in two along its output channels
    /// (each half its own primitives, weights and post-op operands), one half on each of bnc's
    /// threads. nil for grouped convolutions and fewer than 32 output channels.
    private let halves: [DNNLConvolution]?
    /// Output channels of the first half.
    private let firstHalfChannels: Int

    /// The primitives for one image count and where their buffers sit in the scratch.
    final class Kernels: @unchecked Sendable {
        let images: Int
        let convolution: DNNLPrimitive
        /// The layouts bnc hands in and takes out (planes or channels-last, `input`/`output`),
        /// the primitive's own source and output layouts.
        let outerSource: DNNLLayout, source: DNNLLayout, destination: DNNLLayout
        let sourceReorder: DNNLPrimitive?
        /// The fused pool (how it runs) and its output's layout.
        let pool: Pool?
        let pooled: DNNLLayout?
        let outerOutput: DNNLLayout
        let outputReorder: DNNLPrimitive?
        /// Byte offsets in the scratch: blocked source, convolution output, pooled output,
        /// scratchpad; and the total.
        let sourceOffset: Int, destinationOffset: Int, pooledOffset: Int, scratchpadOffset: Int, bytes: Int

        init(images: Int, convolution: DNNLPrimitive, outerSource: DNNLLayout, outerOutput: DNNLLayout,
             pool: Pool?, engine: DNNLEngine) throws(KernelShapeError) {
            self.images = images
            self.convolution = convolution
            self.outerSource = outerSource
            self.outerOutput = outerOutput
            guard let src = convolution.layout(dnnl_query_src_md), let dst = convolution.layout(dnnl_query_dst_md) else {
                throw KernelShapeError("oneDNN gave no layouts")
            }
            source = src
            destination = dst
            if src != outerSource {
                guard let r = DNNLPrimitive.reorder(from: outerSource, to: src, engine: engine) else { throw KernelShapeError("no source reorder") }
                sourceReorder = r
            } else {
                sourceReorder = nil
            }
            self.pool = pool
            switch pool {
            case .channelsInner(_, _, let layout)?: pooled = layout
            case .planes(let layout)?: pooled = layout
            case nil: pooled = nil
            }
            let last = pooled ?? dst
            if last != outerOutput {
                guard let r = DNNLPrimitive.reorder(from: last, to: outerOutput, engine: engine) else { throw KernelShapeError("no output reorder") }
                outputReorder = r
            } else {
                outputReorder = nil
            }
            func aligned(_ b: Int) -> Int { (b + 63) / 64 * 64 }
            var offset = 0
            sourceOffset = offset
            if sourceReorder != nil { offset += aligned(src.bytes) }
            destinationOffset = offset
            // The convolution writes the output directly when nothing follows it in blocks.
            if pooled != nil || outputReorder != nil { offset += aligned(dst.bytes) }
            pooledOffset = offset
            if let pooled, outputReorder != nil { offset += aligned(pooled.bytes) }
            scratchpadOffset = offset
            let pad = [convolution.scratchpadBytes, sourceReorder?.scratchpadBytes ?? 0, outputReorder?.scratchpadBytes ?? 0].max() ?? 0
            offset += aligned(pad)
            bytes = offset
        }

        /// How a fused pool runs: on a channel-innermost output (`BlockedPooling`, into
        /// `layout`, the same blocks), or on a plain NCHW one (`MaxPooling`, into NCHW `layout`).
        enum Pool {
            case channelsInner(from: BlockedPooling.Layout, to: BlockedPooling.Layout, layout: DNNLLayout)
            case planes(DNNLLayout)

            var name: String {
                switch self {
                case .channelsInner(let from, _, _): return from.isNHWC ? "bnc nhwc" : "bnc nChw\(from.lanes)c"
                case .planes: return "bnc nchw"
                }
            }
        }
    }

    /// nil when oneDNN has no primitive for this convolution (the caller keeps im2col).
    /// `weight` (M, C/G, k…) row-major; `scale`, `shift` per output channel (nil: 1, 0).
    /// `input`, `output`: the order of x and y (bnc's planes, or the chain's order inside a
    /// chain of convolutions).
    public convenience init?(geometry g: ConvGeometry, weight: [Float], scale: [Float]?, shift: [Float]?, activation: Activation,
                             pool: PoolGeometry?, input: ActivationOrder = .planes, output: ActivationOrder = .planes) {
        self.init(geometry: g, weight: weight, scale: scale, shift: shift, activation: activation, pool: pool,
                  input: input, output: output, splits: true)
    }

    private init?(geometry g: ConvGeometry, weight: [Float], scale: [Float]?, shift: [Float]?, activation: Activation,
                  pool: PoolGeometry?, input: ActivationOrder, output: ActivationOrder, splits: Bool) {
        guard let engine = DNNL.engine, weight.count == g.weightCount,
              scale.map({ $0.count == g.outChannels }) ?? true, shift.map({ $0.count == g.outChannels }) ?? true else { return nil }
        if let pool, !pool.isPlain2x2 || g.rank != 2 || pool.channels != g.outChannels || Array(pool.window.input) != g.window.output {
            return nil
        }
        self.engine = engine
        contexts = DNNLContextPool(engine: engine)
        geometry = g
        self.pool = pool
        self.activation = activation
        self.input = input
        self.output = output
        let rank = g.rank
        let channelDims = [1, g.outChannels] + [Int](repeating: 1, count: rank)
        guard let channel = DNNLLayout(channelDims, DNNLConvolution.plainTag(rank)) else { return nil }
        // A scale runs in Swift after the primitive (`finish`) where each output sums few
        // products (`swiftAffineDepth`); deeper convolutions keep the binary post-ops. Under a
        // fused pool only for positive scales, with which it commutes.
        let swiftAffine = g.columnRows < DNNLConvolution.swiftAffineDepth && (pool == nil || (scale?.allSatisfy { $0 > 0 } ?? true))
        let epilogue = DNNLEpilogue(scale: scale, shift: shift, activation: activation, channel: channel, affineInSwift: swiftAffine)
        self.epilogue = epilogue
        let ops = epilogue.postOps, bias = epilogue.bias

        // The primitive for `subBatch` images picks the weights' layout; the others use it.
        // All are made for one OpenMP thread, as every call runs (their scratchpad and work
        // split are fixed at creation by the creating thread's OpenMP setting).
        DNNL.useThreads(1)
        guard let plainWeights = DNNLLayout(DNNLConvolution.weightDims(g), DNNLConvolution.weightTag(g)),
              let anyWeights = DNNLLayout(DNNLConvolution.weightDims(g), dnnl_format_tag_any),
              let first = DNNLConvolution.makeKernels(g, images: DNNLConvolution.subBatch, weights: anyWeights, hasBias: bias != nil,
                                                      postOps: ops, pool: pool, input: input, output: output, engine: engine),
              let chosen = first.convolution.layout(dnnl_query_weights_md) else { return nil }
        weightLayout = chosen
        guard let reordered = DNNLBuffer.reordered(weight, from: plainWeights, to: chosen, engine: engine) else { return nil }
        weights = reordered
        implementation = first.convolution.implementation
        poolImplementation = first.pool?.name
        // Halves along the output channels, the first a multiple of 16 (oneDNN's channel block).
        let m0 = (g.outChannels / 2 + 15) / 16 * 16
        var parts: [DNNLConvolution]?
        if splits, g.groups == 1, g.outChannels >= 32, m0 < g.outChannels {
            parts = []
            for (lo, hi) in [(0, m0), (m0, g.outChannels)] {
                let rows = g.columnRows
                guard let hg = try? ConvGeometry(window: g.window, inChannels: g.inChannels, outChannels: hi - lo),
                      let hp = pool.map({ try? PoolGeometry(window: $0.window, channels: hi - lo) }) ?? .some(nil),
                      let half = DNNLConvolution(geometry: hg, weight: Array(weight[(lo * rows)..<(hi * rows)]),
                                                 scale: scale.map { Array($0[lo..<hi]) }, shift: shift.map { Array($0[lo..<hi]) },
                                                 activation: activation, pool: hp, input: input, output: output, splits: false) else {
                    parts = nil
                    break
                }
                parts?.append(half)
            }
        }
        halves = parts
        firstHalfChannels = m0
        // Buffers grow with the image count; the scratchpad may not, so this is an upper bound.
        let perImage = max(1, first.bytes / DNNLConvolution.subBatch)
        let count = max(1, min(DNNLConvolution.subBatch, DNNLConvolution.callBytes / perImage))
        let sized: Kernels
        if count == DNNLConvolution.subBatch {
            sized = first
        } else {
            guard let k = DNNLConvolution.makeKernels(g, images: count, weights: chosen, hasBias: bias != nil, postOps: ops,
                                                      pool: pool, input: input, output: output, engine: engine) else { return nil }
            sized = k
        }
        imagesPerCall = count
        bytesPerImage = perImage
        // A half writing channels-last makes its part of the output in the scratch (after
        // its own), then puts it in place (`ChannelsLast.place`).
        let halfScratch = parts?.map { $0.scratchPerCall + (output == .channelsLast ? $0.outputPerImage + 16 : 0) }.max() ?? 0
        scratchPerCall = max((sized.bytes + 63) / 4 + 16, halfScratch)
        cache.withLock { $0[count] = sized }
    }

    /// The order oneDNN's convolutions on this CPU work in, which chains of them hand each
    /// other (`ActivationOrder`): its AVX-512 kernels (brgconv) pick nhwc for f32 activations
    /// (`.channelsLast`), its AVX2 ones nChw8c blocks (`.blocked(8)`), older AVX-512 ones
    /// nChw16c. Probed once with a 3×3 64→64 convolution over 14×14, the kind chains are made
    /// of; `.planes` (no chains) without oneDNN or for any other layout.
    public static let chainOrder: ActivationOrder = {
        guard let engine = DNNL.engine, let x = DNNLLayout([16, 64, 14, 14], dnnl_format_tag_any),
              let w = DNNLLayout([64, 64, 3, 3], dnnl_format_tag_any), let attr = DNNLAttributes() else { return .planes }
        DNNL.useThreads(1)
        var desc = dnnl_convolution_desc_t()
        var src = x.desc, wei = w.desc, dst = x.desc
        let one: [Int64] = [1, 1], zero: [Int64] = [0, 0]
        guard dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, nil, &dst,
                                                         one, zero, one, one) == dnnl_success else { return .planes }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &desc, attr.handle, engine.handle, nil) == dnnl_success, let pd else { return .planes }
        defer { dnnl_primitive_desc_destroy(pd) }
        guard let s = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), let d = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0)
        else { return .planes }
        for order in [ActivationOrder.channelsLast, .blocked(8), .blocked(16)] {
            if let layout = DNNLLayout([16, 64, 14, 14], tag(2, order)), DNNLLayout(s.pointee) == layout, DNNLLayout(d.pointee) == layout {
                return order
            }
        }
        return .planes
    }()

    /// NC(D)HW, NC(H)W… plain tags by spatial rank.
    static func plainTag(_ rank: Int) -> dnnl_format_tag_t {
        rank == 1 ? dnnl_ncw : rank == 2 ? dnnl_nchw : dnnl_ncdhw
    }

    /// The tag of activations in `order` by spatial rank: planes NC(D)HW, channels-last
    /// N(D)HWC, channel blocks nC(D)HW8c / 16c (other block sizes are never chosen: planes).
    static func tag(_ rank: Int, _ order: ActivationOrder) -> dnnl_format_tag_t {
        switch order {
        case .planes: return plainTag(rank)
        case .channelsLast: return rank == 1 ? dnnl_nwc : rank == 2 ? dnnl_nhwc : dnnl_ndhwc
        case .blocked(8): return rank == 1 ? dnnl_aBc8b : rank == 2 ? dnnl_aBcd8b : dnnl_aBcde8b
        case .blocked(16): return rank == 1 ? dnnl_aBc16b : rank == 2 ? dnnl_aBcd16b : dnnl_aBcde16b
        case .blocked: return plainTag(rank)
        }
    }

    /// The window as oneDNN's convolution descriptors take it: strides, dilations (oneDNN
    /// counts the gaps: ONNX's dilation − 1), pads at the start and at the end.
    static func window(_ g: ConvGeometry) -> (strides: [Int64], dilations: [Int64], padL: [Int64], padR: [Int64]) {
        (g.window.strides.map(Int64.init), g.window.dilations.map { Int64($0 - 1) },
         g.window.padsBegin.map(Int64.init), g.window.padsEnd.map(Int64.init))
    }

    static func weightDims(_ g: ConvGeometry) -> [Int] {
        let k = Array(g.window.kernel)
        let perGroup = [g.outChannels / g.groups, g.inChannels / g.groups] + k
        return g.groups > 1 ? [g.groups] + perGroup : perGroup
    }

    static func weightTag(_ g: ConvGeometry) -> dnnl_format_tag_t {
        switch (g.rank, g.groups > 1) {
        case (1, false): return dnnl_oiw
        case (2, false): return dnnl_oihw
        case (3, false): return dnnl_oidhw
        case (1, true): return dnnl_goiw
        case (2, true): return dnnl_goihw
        default: return dnnl_goidhw
        }
    }

    private static func makeKernels(
        _ g: ConvGeometry, images n: Int, weights: DNNLLayout, hasBias: Bool, postOps: [DNNLPostOp], pool: PoolGeometry?,
        input: ActivationOrder, output: ActivationOrder, engine: DNNLEngine
    ) -> Kernels? {
        let rank = g.rank
        let inDims = [n, g.inChannels] + Array(g.window.input), outDims = [n, g.outChannels] + Array(g.window.output)
        guard let outerSource = DNNLLayout(inDims, tag(rank, input)), let anySource = DNNLLayout(inDims, dnnl_format_tag_any),
              let anyOutput = DNNLLayout(outDims, dnnl_format_tag_any), let biasLayout = DNNLLayout([g.outChannels], dnnl_x),
              let attr = DNNLAttributes(), attr.setPostOps(postOps) else { return nil }
        let (strides, dilations, padL, padR) = window(g)
        var desc = dnnl_convolution_desc_t()
        var src = anySource.desc, wei = weights.desc, dst = anyOutput.desc, b = biasLayout.desc
        let status = hasBias
            ? dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, &b, &dst,
                                                         strides, dilations, padL, padR)
            : dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, nil, &dst,
                                                         strides, dilations, padL, padR)
        guard status == dnnl_success else { return nil }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &desc, attr.handle, engine.handle, nil) == dnnl_success, let pd,
              let conv = DNNLPrimitive(descriptor: pd) else { return nil }
        var fused: Kernels.Pool?
        var outerOutput = DNNLLayout(outDims, tag(rank, output))
        if let pool {
            guard let convOut = conv.layout(dnnl_query_dst_md) else { return nil }
            let pooledDims = [n, g.outChannels] + Array(pool.window.output)
            outerOutput = DNNLLayout(pooledDims, tag(rank, output))
            if let plain = DNNLLayout(outDims, plainTag(rank)), convOut == plain, let planes = DNNLLayout(pooledDims, plainTag(rank)) {
                fused = .planes(planes)
            } else if let from = BlockedPooling.Layout(convOut.desc),
                      let layout = DNNLLayout(pooledDims, from.isNHWC ? dnnl_nhwc : from.lanes == 8 ? dnnl_aBcd8b : dnnl_aBcd16b),
                      let to = BlockedPooling.Layout(layout.desc), to.lanes == from.lanes, to.blocks == from.blocks {
                fused = .channelsInner(from: from, to: to, layout: layout)
            } else {
                return nil  // a layout bnc's pools do not read: the caller keeps im2col
            }
        }
        guard let outerSourceLayout = Optional(outerSource), let outerOutput else { return nil }
        return try? Kernels(images: n, convolution: conv, outerSource: outerSourceLayout, outerOutput: outerOutput,
                            pool: fused, engine: engine)
    }

    /// The primitives for `n` images (made and cached on first use).
    private func kernels(_ n: Int) -> Kernels? {
        if let k = cache.withLock({ $0[n] }) { return k }
        guard let k = DNNLConvolution.makeKernels(geometry, images: n, weights: weightLayout, hasBias: epilogue.bias != nil,
                                                  postOps: epilogue.postOps, pool: pool, input: input, output: output, engine: engine),
              k.bytes <= scratchPerCall * 4 - 64 else { return nil }
        cache.withLock { $0[n] = k }
        return k
    }

    /// Runs `images` images: x (images, C, i…) → y (images, M, o…) (pooled when `pool`).
    /// `scratch` holds `scratchPerCall` floats, or `Parallel.ways` times that with `parallel`
    /// (the images are then split over bnc's threads, each calling oneDNN with one OpenMP
    /// thread; one image is split along its output channels, `halves`). False when oneDNN failed (nothing is then promised about y: the caller runs
    /// its own kernel).
    public func forward(
        images: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, parallel: Bool
    ) -> Bool {
        let inCount = geometry.inChannels * geometry.inSpatial
        let outCount = outputPerImage
        if parallel && images == 1 && Parallel.isEnabled, let halves {
            let failures = Atomic<Int>(0)
            let p = Pointers(x: x, y: y, scratch: scratch)
            let spatial = pool?.outSpatial ?? geometry.outSpatial
            Parallel.forEachSlice { slice in
                let half = halves[slice], scratch = p.scratch + slice * self.scratchPerCall
                let first = slice == 0 ? 0 : self.firstHalfChannels
                let ok: Bool
                switch self.output {
                case .planes, .blocked:
                    // Channels first ..< first + part are contiguous (first is a multiple of
                    // 16, and of the block, as is each half's count in a chain of blocks).
                    ok = half.forwardSerial(images: 1, input: p.x, output: p.y + first * spatial, scratch: scratch)
                case .channelsLast:
                    // In channels-last order the halves' channels interleave: each half is made
                    // whole after the half's own scratch, then put in place.
                    let part = scratch + half.scratchPerCall
                    ok = half.forwardSerial(images: 1, input: p.x, output: part, scratch: scratch)
                    if ok {
                        ChannelsLast.place(part, part: half.geometry.outChannels, spatial: spatial, into: p.y,
                                           channels: self.geometry.outChannels, first: first)
                    }
                }
                if !ok { failures.add(1, ordering: .relaxed) }
            }
            return failures.load(ordering: .relaxed) == 0
        }
        if parallel && images >= 2 && Parallel.isEnabled {
            return DNNL.splitOverThreads(images, input: x, inputStride: inCount, output: y, outputStride: outCount, scratch: scratch,
                                         scratchPerCall: scratchPerCall) { n, x, y, scratch in
                forwardSerial(images: n, input: x, output: y, scratch: scratch)
            }
        }
        // One image of a convolution too small to halve runs on this thread alone. oneDNN on
        // two OpenMP threads (bnc's worker parked) was measured 3000× slower at batch 1 on
        // this 2-core machine while other processes kept it busy (libgomp's team waits at
        // every barrier for a thread that has no core): one pool, bnc's, is the only one.
        return forwardSerial(images: images, input: x, output: y, scratch: scratch)
    }

    private struct Pointers: @unchecked Sendable {
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    }

    private func forwardSerial(
        images: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        DNNL.useThreads(1)
        let inCount = geometry.inChannels * geometry.inSpatial
        let outCount = outputPerImage
        // 64-byte aligned base of this call's scratch.
        let raw = UnsafeMutableRawPointer(scratch)
        let base = raw + ((64 - Int(bitPattern: raw) % 64) % 64)
        var first = 0
        while first < images {
            let n = min(imagesPerCall, images - first)
            guard let k = kernels(n) else { return false }
            let ok = contexts.with { c in
                run(k, c, input: UnsafeMutableRawPointer(mutating: x + first * inCount), output: UnsafeMutableRawPointer(y + first * outCount),
                    scratch: base)
            }
            guard ok == true else { return false }
            finish(y + first * outCount, images: n)
            first += n
        }
        return true
    }

    /// The epilogue left to Swift on `images` outputs just written (in cache): the scale and
    /// shift, then the activation. After a fused pool too: its scales are positive (the
    /// initializer leaves others to post-ops), so the affine map, like the activation, is
    /// monotone and commutes with the max, to the bit.
    private func finish(_ y: UnsafeMutablePointer<Float>, images: Int) {
        let spatial = pool?.outSpatial ?? geometry.outSpatial
        if let scale = epilogue.swiftScale {
            output.affine(y, images: images, channels: geometry.outChannels, spatial: spatial, scale: scale.floats,
                          shift: epilogue.swiftShift?.floats)
        }
        if epilogue.swiftActivation != .identity { epilogue.swiftActivation.forwardInPlace(y, count: images * outputPerImage) }
    }

    private func run(_ k: Kernels, _ c: DNNLContext, input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer,
                     scratch: UnsafeMutableRawPointer) -> Bool {
        // Memory slots: 0 plain source, 1 blocked source, 2 convolution output, 3 pooled,
        // 4 plain output, 5 weights, 6 bias, 7 scratchpad, 8… post-op operands.
        var slot = 8
        func memory(_ s: Int, _ layout: DNNLLayout, _ p: UnsafeMutableRawPointer) -> dnnl_memory_t? {
            c.memory(s, layout, p, engine: engine)
        }
        let padBytes = k.bytes - k.scratchpadOffset
        let pad = padBytes > 0 ? memory(7, DNNLLayout([padBytes / 4], dnnl_a)!, scratch + k.scratchpadOffset) : nil
        func withPad(_ args: [(Int32, dnnl_memory_t)], _ p: DNNLPrimitive) -> [(Int32, dnnl_memory_t)] {
            guard p.scratchpadBytes > 0, let pad else { return args }
            return args + [(DNNLArgument.scratchpad, pad)]
        }
        // Source.
        var src: dnnl_memory_t
        if let reorder = k.sourceReorder {
            guard let from = memory(0, k.outerSource, input), let to = memory(1, k.source, scratch + k.sourceOffset),
                  c.execute(reorder, withPad([(DNNLArgument.from, from), (DNNLArgument.to, to)], reorder)) else { return false }
            src = to
        } else {
            guard let s = memory(0, k.outerSource, input) else { return false }
            src = s
        }
        // Convolution.
        let direct = k.pooled == nil && k.outputReorder == nil
        guard let dst = direct ? memory(4, k.outerOutput, output) : memory(2, k.destination, scratch + k.destinationOffset),
              let w = memory(5, weightLayout, weights.pointer) else { return false }
        var args = [(DNNLArgument.src, src), (DNNLArgument.weights, w), (DNNLArgument.dst, dst)]
        if let bias = epilogue.bias {
            guard let b = memory(6, DNNLLayout([geometry.outChannels], dnnl_x)!, bias.pointer) else { return false }
            args.append((DNNLArgument.bias, b))
        }
        let channel = DNNLLayout([1, geometry.outChannels] + [Int](repeating: 1, count: geometry.rank), DNNLConvolution.plainTag(geometry.rank))!
        for (i, operand) in epilogue.operands.enumerated() {
            guard let m = memory(slot, channel, operand.pointer) else { return false }
            args.append((DNNLArgument.postOpOperand(i), m))
            slot += 1
        }
        guard c.execute(k.convolution, withPad(args, k.convolution)) else { return false }
        var last = dst
        if let fused = k.pool, let pooled = k.pooled, let pool {
            let target = k.outputReorder == nil ? output : scratch + k.pooledOffset
            let convolved = (scratch + k.destinationOffset).assumingMemoryBound(to: Float.self)
            switch fused {
            case .channelsInner(let from, let to, _):
                BlockedPooling.maxPool2x2(images: k.images, outHeight: pool.outHeight, outWidth: pool.outWidth,
                                          from: from, convolved, to: to, target.assumingMemoryBound(to: Float.self))
            case .planes:
                MaxPooling.forward(pool, batch: k.images, input: convolved, output: target.assumingMemoryBound(to: Float.self),
                                   argmax: nil, parallel: false)
            }
            guard let pd = memory(k.outputReorder == nil ? 4 : 3, pooled, target) else { return false }
            last = pd
        }
        if let reorder = k.outputReorder {
            guard let to = memory(4, k.outerOutput, output),
                  c.execute(reorder, withPad([(DNNLArgument.from, last), (DNNLArgument.to, to)], reorder)) else { return false }
        }
        return true
    }
}
