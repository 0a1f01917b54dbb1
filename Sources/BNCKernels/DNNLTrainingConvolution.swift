import CDNNL
import Synchronization

/// A training convolution through oneDNN: what `Convolution.forward` (without an epilogue)
/// and `Convolution.backward` compute, y = x ⋆ W + b and dx, dW, db, with oneDNN's direct
/// convolution for training, its backward-data and its backward-weights primitives.
///
/// x, y, dy and dx stay in bnc's NC(D)HW and W, dW in (M, C/G, k…): each call reorders into
/// the layouts the primitives chose (nChw16c on AVX-512, nChw8c on AVX2) and back, W every
/// forward (it changes every step; it is small). The images split over bnc's threads, each
/// calling oneDNN with one OpenMP thread on its share, whose reordered input the forward keeps
/// for the backward's weight gradient; each thread's dW and db are its share's sums, added in
/// thread order afterwards, as `Convolution.backward` does. For one batch size the results are
/// the same bits run to run (oneDNN's kernels on one thread do not reorder sums by timing);
/// against bnc's im2col kernel they agree to rounding.
///
/// Primitives exist per share size (made on first use and cached: a training run has two,
/// the batch's and the last batch's); each thread's buffers (one `DNNLBuffer`) grow to the
/// largest share. Calls come from one thread at a time (the trainer's).
public final class DNNLTrainingConvolution: @unchecked Sendable {
    public let geometry: ConvGeometry
    public let hasBias: Bool
    /// The kernels oneDNN picked: "forward X, backward data Y, backward weights Z".
    public let implementation: String

    private let engine: DNNLEngine
    private let contexts: DNNLContextPool
    private let cache = Mutex<[Int: Kernels]>([:])
    /// Each thread's buffers, by slice.
    private var workspaces: [DNNLBuffer?]

    /// nil when oneDNN has no primitives for this convolution (the caller keeps im2col).
    public init?(geometry g: ConvGeometry, bias: Bool) {
        guard let engine = DNNL.engine else { return nil }
        self.engine = engine
        contexts = DNNLContextPool(engine: engine)
        geometry = g
        hasBias = bias
        workspaces = Array(repeating: nil, count: Parallel.ways)
        DNNL.useThreads(1)
        guard let first = Kernels(g, images: 1, bias: bias, engine: engine) else { return nil }
        implementation = "forward \(first.forward.implementation), backward data \(first.backwardData.implementation), "
            + "backward weights \(first.backwardWeights.implementation)"
        cache.withLock { $0[1] = first }
    }

    private func kernels(_ n: Int) -> Kernels? {
        if let k = cache.withLock({ $0[n] }) { return k }
        DNNL.useThreads(1)
        guard let k = Kernels(geometry, images: n, bias: hasBias, engine: engine) else { return nil }
        cache.withLock { $0[n] = k }
        return k
    }

    /// The primitives and reorders for `images` images, and where their buffers sit in a
    /// thread's workspace.
    final class Kernels: @unchecked Sendable {
        let images: Int
        let forward: DNNLPrimitive, backwardData: DNNLPrimitive, backwardWeights: DNNLPrimitive
        let plainInput: DNNLLayout, plainOutput: DNNLLayout, plainWeights: DNNLLayout
        /// Each argument of each primitive: its layout, and a reorder from or to bnc's layout
        /// into the workspace where it differs (or the buffer it shares with another argument).
        let source: Area, weights: Area, output: Area
        let outputGradient: Area, dataWeights: Area, inputGradient: Area
        let weightSource: Area, weightOutputGradient: Area, weightGradient: Area
        /// Floats offsets in the workspace: this share's dW (plain) and db; the scratchpad.
        let partialOffset: Int, scratchpadOffset: Int, scratchpadBytes: Int
        let bytes: Int

        struct Area {
            let layout: DNNLLayout
            /// Byte offset of the argument's buffer in the workspace; nil: bnc's own buffer.
            let offset: Int?
            /// Into the layout (inputs) or out of it (outputs); nil when none is needed.
            let reorder: DNNLPrimitive?
        }

        init?(_ g: ConvGeometry, images n: Int, bias: Bool, engine: DNNLEngine) {
            images = n
            let rank = g.rank
            let inDims = [n, g.inChannels] + Array(g.window.input), outDims = [n, g.outChannels] + Array(g.window.output)
            let weightDims = DNNLConvolution.weightDims(g)
            guard let plainIn = DNNLLayout(inDims, DNNLConvolution.plainTag(rank)),
                  let plainOut = DNNLLayout(outDims, DNNLConvolution.plainTag(rank)),
                  let plainW = DNNLLayout(weightDims, DNNLConvolution.weightTag(g)),
                  let anyIn = DNNLLayout(inDims, dnnl_format_tag_any), let anyOut = DNNLLayout(outDims, dnnl_format_tag_any),
                  let anyW = DNNLLayout(weightDims, dnnl_format_tag_any), let biasLayout = DNNLLayout([g.outChannels], dnnl_x),
                  let attr = DNNLAttributes() else { return nil }
            plainInput = plainIn
            plainOutput = plainOut
            plainWeights = plainW
            let (strides, dilations, padL, padR) = DNNLConvolution.window(g)
            var src = anyIn.desc, wei = anyW.desc, dst = anyOut.desc, b = biasLayout.desc
            var fd = dnnl_convolution_desc_t(), bd = dnnl_convolution_desc_t(), wd = dnnl_convolution_desc_t()
            let forwardStatus = bias
                ? dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, &b, &dst,
                                                             strides, dilations, padL, padR)
                : dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, nil, &dst,
                                                             strides, dilations, padL, padR)
            let weightsStatus = bias
                ? dnnl_dilated_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src, &wei, &b, &dst,
                                                                      strides, dilations, padL, padR)
                : dnnl_dilated_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src, &wei, nil, &dst,
                                                                      strides, dilations, padL, padR)
            guard forwardStatus == dnnl_success, weightsStatus == dnnl_success,
                  dnnl_dilated_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src, &wei, &dst, strides, dilations,
                                                                   padL, padR) == dnnl_success
            else { return nil }
            var fpd: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&fpd, &fd, attr.handle, engine.handle, nil) == dnnl_success, let fpd,
                  let forward = DNNLPrimitive(descriptor: fpd) else { return nil }
            var bpd: dnnl_primitive_desc_t?, wpd: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&bpd, &bd, attr.handle, engine.handle, fpd) == dnnl_success, let bpd,
                  let backwardData = DNNLPrimitive(descriptor: bpd),
                  dnnl_primitive_desc_create(&wpd, &wd, attr.handle, engine.handle, fpd) == dnnl_success, let wpd,
                  let backwardWeights = DNNLPrimitive(descriptor: wpd) else { return nil }
            self.forward = forward
            self.backwardData = backwardData
            self.backwardWeights = backwardWeights
            guard let fSrc = forward.layout(dnnl_query_src_md), let fW = forward.layout(dnnl_query_weights_md),
                  let fDst = forward.layout(dnnl_query_dst_md), let bDiffDst = backwardData.layout(dnnl_query_diff_dst_md),
                  let bW = backwardData.layout(dnnl_query_weights_md), let bDiffSrc = backwardData.layout(dnnl_query_diff_src_md),
                  let wSrc = backwardWeights.layout(dnnl_query_src_md), let wDiffDst = backwardWeights.layout(dnnl_query_diff_dst_md),
                  let wDiffW = backwardWeights.layout(dnnl_query_diff_weights_md) else { return nil }
            var offset = 0
            var reorderPad = 0
            func area(_ chosen: DNNLLayout, plain: DNNLLayout, into: Bool, sharing other: Area? = nil) -> Area? {
                if chosen == plain { return Area(layout: chosen, offset: nil, reorder: nil) }
                if let other, other.layout == chosen { return Area(layout: chosen, offset: other.offset, reorder: nil) }
                guard let r = into ? DNNLPrimitive.reorder(from: plain, to: chosen, engine: engine)
                                   : DNNLPrimitive.reorder(from: chosen, to: plain, engine: engine) else { return nil }
                reorderPad = max(reorderPad, r.scratchpadBytes)
                let a = Area(layout: chosen, offset: offset, reorder: r)
                offset += (chosen.bytes + 63) / 64 * 64
                return a
            }
            guard let source = area(fSrc, plain: plainIn, into: true), let weights = area(fW, plain: plainW, into: true),
                  let output = area(fDst, plain: plainOut, into: false),
                  let outputGradient = area(bDiffDst, plain: plainOut, into: true),
                  let dataWeights = area(bW, plain: plainW, into: true, sharing: weights),
                  let inputGradient = area(bDiffSrc, plain: plainIn, into: false),
                  let weightSource = area(wSrc, plain: plainIn, into: true, sharing: source),
                  let weightOutputGradient = area(wDiffDst, plain: plainOut, into: true, sharing: outputGradient),
                  let weightGradient = area(wDiffW, plain: plainW, into: false) else { return nil }
            (self.source, self.weights, self.output) = (source, weights, output)
            (self.outputGradient, self.dataWeights, self.inputGradient) = (outputGradient, dataWeights, inputGradient)
            (self.weightSource, self.weightOutputGradient, self.weightGradient) = (weightSource, weightOutputGradient, weightGradient)
            partialOffset = offset
            offset += ((g.weightCount + g.outChannels) * 4 + 63) / 64 * 64
            scratchpadOffset = offset
            scratchpadBytes = max(reorderPad, forward.scratchpadBytes, backwardData.scratchpadBytes, backwardWeights.scratchpadBytes)
            bytes = offset + (scratchpadBytes + 63) / 64 * 64
        }
    }

    /// Makes the primitives and workspaces for batches of `batch` images ahead of the first
    /// call (a smaller last batch then finds its shares' buffers large enough). False when
    /// oneDNN failed.
    @discardableResult
    public func reserve(batch: Int) -> Bool { shares(batch) != nil }

    /// An upper bound of the workspaces' floats (`TrainingMemory`): per image, x, dx, y and dy
    /// in layouts blocking channels by up to 16 (oneDNN's widest f32 block); once per thread,
    /// three reordered copies of W (and dW) blocked the same way, the share's dW and db, and
    /// 1 Ki floats plus 4 per blocked output channel for alignment and the primitives'
    /// scratchpads (on one OpenMP thread they hold no reduction buffers: measured 0 to 480
    /// floats over `DNNLTrainingConvolutionTests`' shapes and the CNN preset's, on AVX-512).
    public static func workspaceBound(_ g: ConvGeometry) -> (perImage: Int, fixed: Int) {
        func blocked(_ c: Int) -> Int { (c + 15) / 16 * 16 }
        let perImage = 2 * (blocked(g.inChannels) * g.inSpatial + blocked(g.outChannels) * g.outSpatial)
        let kernel = g.kernelDepth * g.kernelHeight * g.kernelWidth
        let weights = g.groups * blocked(g.outChannels / g.groups) * blocked(g.inChannels / g.groups) * kernel
        return (perImage, Parallel.ways * (3 * weights + g.weightCount + g.outChannels + 1024 + 4 * g.groups * blocked(g.outChannels / g.groups)))
    }

    /// Bytes of the threads' workspaces allocated so far.
    public var workspaceBytes: Int { workspaces.reduce(0) { $0 + ($1?.bytes ?? 0) } }

    /// One thread's share: its kernels, workspace and images.
    private struct Share: @unchecked Sendable {
        let kernels: Kernels
        let workspace: UnsafeMutableRawPointer
        let first: Int
    }

    /// The kernels and workspace of each thread's share of `n` images (nil when oneDNN failed).
    private func shares(_ n: Int) -> [Share]? {
        var result: [Share] = []
        let ways = Parallel.isEnabled && n >= 2 ? Parallel.ways : 1
        for slice in 0..<ways {
            let r = ways == 1 ? 0..<n : Parallel.range(slice, of: n)
            if r.isEmpty { continue }
            guard let k = kernels(r.count) else { return nil }
            if (workspaces[slice]?.bytes ?? 0) < k.bytes { workspaces[slice] = DNNLBuffer(bytes: k.bytes) }
            result.append(Share(kernels: k, workspace: workspaces[slice]!.pointer, first: r.lowerBound))
        }
        return result
    }

    private func onShares(_ shares: [Share], _ body: @Sendable (Share) -> Bool) -> Bool {
        if shares.count == 1 { return body(shares[0]) }
        let failures = Atomic<Int>(0)
        Parallel.forEachSlice { slice in
            if slice < shares.count, !body(shares[slice]) { failures.add(1, ordering: .relaxed) }
        }
        return failures.load(ordering: .relaxed) == 0
    }

    private struct Pointers: @unchecked Sendable {
        let x: UnsafeMutableRawPointer, w: UnsafeMutableRawPointer, b: UnsafeMutableRawPointer?
        let y: UnsafeMutableRawPointer?, dy: UnsafeMutableRawPointer?, dx: UnsafeMutableRawPointer?
    }

    /// y (n, M, o…) = x (n, C, i…) ⋆ W + b. False when oneDNN failed (the caller then runs its
    /// own kernel, forward and backward).
    public func forward(batch n: Int, input x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
                        output y: UnsafeMutablePointer<Float>) -> Bool {
        guard let shares = shares(n) else { return false }
        let p = Pointers(x: UnsafeMutableRawPointer(mutating: x), w: UnsafeMutableRawPointer(mutating: w),
                         b: b.map { UnsafeMutableRawPointer(mutating: $0) }, y: UnsafeMutableRawPointer(y), dy: nil, dx: nil)
        let inCount = geometry.inChannels * geometry.inSpatial * 4, outCount = geometry.outChannels * geometry.outSpatial * 4
        return onShares(shares) { s in
            DNNL.useThreads(1)
            return self.contexts.with { c -> Bool in
                let k = s.kernels, ws = s.workspace
                let run = Run(c, k, ws, engine: self.engine)
                guard let src = run.input(k.source, plain: k.plainInput, p.x + s.first * inCount, slot: 0),
                      let wei = run.input(k.weights, plain: k.plainWeights, p.w, slot: 2),
                      let dst = run.outputMemory(k.output, plain: k.plainOutput, p.y! + s.first * outCount, slot: 4) else { return false }
                var args = [(DNNLArgument.src, src), (DNNLArgument.weights, wei), (DNNLArgument.dst, dst)]
                if let b = p.b {
                    guard let m = c.memory(6, DNNLLayout([self.geometry.outChannels], dnnl_x)!, b, engine: self.engine) else { return false }
                    args.append((DNNLArgument.bias, m))
                }
                return run.execute(k.forward, args) && run.finish(k.output, plain: k.plainOutput, p.y! + s.first * outCount, slot: 4)
            } ?? false
        }
    }

    /// Gradients of `forward` (called after it, with the same x, W and n):
    /// dx (n, C, i…) overwritten, skipped when nil; dW (M, C/G, k…) and db (M) overwritten,
    /// db skipped when nil. False when oneDNN failed.
    public func backward(batch n: Int, input x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, gradient dy: UnsafePointer<Float>,
                         inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>,
                         biasGradient db: UnsafeMutablePointer<Float>?) -> Bool {
        guard let shares = shares(n) else { return false }
        let p = Pointers(x: UnsafeMutableRawPointer(mutating: x), w: UnsafeMutableRawPointer(mutating: w), b: nil, y: nil,
                         dy: UnsafeMutableRawPointer(mutating: dy), dx: dx.map { UnsafeMutableRawPointer($0) })
        let g = geometry, bias = hasBias
        let inCount = g.inChannels * g.inSpatial * 4, outCount = g.outChannels * g.outSpatial * 4
        let ok = onShares(shares) { s in
            DNNL.useThreads(1)
            return self.contexts.with { c -> Bool in
                let k = s.kernels, ws = s.workspace
                let run = Run(c, k, ws, engine: self.engine)
                let dyShare = p.dy! + s.first * outCount
                guard let ddst = run.input(k.outputGradient, plain: k.plainOutput, dyShare, slot: 16) else { return false }
                if let dx = p.dx {
                    // Where the layouts agree, the forward's reordered W (unchanged since) is used.
                    guard let wei = run.input(k.dataWeights, plain: k.plainWeights, p.w, slot: 18),
                          let dsrc = run.outputMemory(k.inputGradient, plain: k.plainInput, dx + s.first * inCount, slot: 20),
                          run.execute(k.backwardData, [(DNNLArgument.diffDst, ddst), (DNNLArgument.weights, wei), (DNNLArgument.diffSrc, dsrc)]),
                          run.finish(k.inputGradient, plain: k.plainInput, dx + s.first * inCount, slot: 20) else { return false }
                }
                let partial = ws + k.partialOffset
                // Where the layouts agree, the forward's reordered x and the reordered dy above.
                guard let src = run.input(k.weightSource, plain: k.plainInput, p.x + s.first * inCount, slot: 22),
                      let wdst = run.input(k.weightOutputGradient, plain: k.plainOutput, dyShare, slot: 24),
                      let dwei = run.outputMemory(k.weightGradient, plain: k.plainWeights, partial, slot: 26) else { return false }
                var args = [(DNNLArgument.src, src), (DNNLArgument.diffDst, wdst), (DNNLArgument.diffWeights, dwei)]
                if bias {
                    guard let m = c.memory(28, DNNLLayout([g.outChannels], dnnl_x)!, partial + g.weightCount * 4, engine: self.engine)
                    else { return false }
                    args.append((DNNLArgument.diffBias, m))
                }
                return run.execute(k.backwardWeights, args) && run.finish(k.weightGradient, plain: k.plainWeights, partial, slot: 26)
            } ?? false
        }
        guard ok else { return false }
        // The shares' sums, in thread order (zero for no images).
        if shares.isEmpty {
            dw.update(repeating: 0, count: g.weightCount)
            db?.update(repeating: 0, count: g.outChannels)
        }
        for (i, s) in shares.enumerated() {
            let partial = (s.workspace + s.kernels.partialOffset).assumingMemoryBound(to: Float.self)
            if i == 0 {
                dw.update(from: partial, count: g.weightCount)
                if let db { db.update(from: partial + g.weightCount, count: g.outChannels) }
            } else {
                for j in 0..<g.weightCount { dw[j] += partial[j] }
                if let db { for j in 0..<g.outChannels { db[j] += partial[g.weightCount + j] } }
            }
        }
        return true
    }

    /// One share's execution: memory objects for its arguments, the reorders at its edges.
    private struct Run {
        let c: DNNLContext, k: Kernels, ws: UnsafeMutableRawPointer, engine: DNNLEngine
        let pad: dnnl_memory_t?

        init(_ c: DNNLContext, _ k: Kernels, _ ws: UnsafeMutableRawPointer, engine: DNNLEngine) {
            self.c = c
            self.k = k
            self.ws = ws
            self.engine = engine
            pad = k.scratchpadBytes > 0 ? c.memory(30, DNNLLayout([k.scratchpadBytes / 4 + 1], dnnl_a)!, ws + k.scratchpadOffset,
                                                   engine: engine) : nil
        }

        func execute(_ p: DNNLPrimitive, _ args: [(Int32, dnnl_memory_t)]) -> Bool {
            guard p.scratchpadBytes > 0 else { return c.execute(p, args) }
            guard let pad else { return false }
            return c.execute(p, args + [(DNNLArgument.scratchpad, pad)])
        }

        /// The argument in area `a` holding bnc's `data` (slots `slot` and `slot + 1`):
        /// reordered into the workspace where the area has its own reorder (a shared area
        /// holds it already; a plain one is `data` itself).
        func input(_ a: Kernels.Area, plain: DNNLLayout, _ data: UnsafeMutableRawPointer, slot: Int) -> dnnl_memory_t? {
            guard let offset = a.offset else { return c.memory(slot, plain, data, engine: engine) }
            guard let target = c.memory(slot + 1, a.layout, ws + offset, engine: engine) else { return nil }
            if let r = a.reorder {
                guard let from = c.memory(slot, plain, data, engine: engine),
                      execute(r, [(DNNLArgument.from, from), (DNNLArgument.to, target)]) else { return nil }
            }
            return target
        }

        /// Where an output in area `a` is written: bnc's `data` itself, or the workspace.
        func outputMemory(_ a: Kernels.Area, plain: DNNLLayout, _ data: UnsafeMutableRawPointer, slot: Int) -> dnnl_memory_t? {
            guard let offset = a.offset else { return c.memory(slot, plain, data, engine: engine) }
            return c.memory(slot + 1, a.layout, ws + offset, engine: engine)
        }

        /// Moves an output in area `a` out of the workspace into bnc's `data`.
        func finish(_ a: Kernels.Area, plain: DNNLLayout, _ data: UnsafeMutableRawPointer, slot: Int) -> Bool {
            guard let offset = a.offset, let r = a.reorder else { return true }
            guard let from = c.memory(slot + 1, a.layout, ws + offset, engine: engine),
                  let to = c.memory(slot, plain, data, engine: engine) else { return false }
            return execute(r, [(DNNLArgument.from, from), (DNNLArgument.to, to)])
        }
    }
}
