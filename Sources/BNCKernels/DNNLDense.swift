import CDNNL
import Synchronization

/// y (rows, n) = act((x (rows, k) · Wᵀ)·scale + shift) through oneDNN's inner product, for
/// inference: what `GEMM` + `Elementwise.addRowBias` compute, with the weights reordered once
/// into the primitive's layout (OpenBLAS's CBLAS packs them again on every call) and the
/// epilogue as post-ops (the shift the primitive's bias, or with a scale two per-channel
/// binary post-ops; the activation an eltwise post-op where oneDNN has it, else after, in
/// Swift). x and y are plain row-major.
///
/// Made only where oneDNN runs the product with its brgemm kernels (AVX-512:
/// "brgemm:avx512_core"), the only case measured faster than OpenBLAS (`tools/bench/run
/// --dense`: 1.0–1.16× at the MLP's 784→100 and 100→100, 1.3–1.7× at the CNN's 3136→128, one
/// thread each; on AVX2 oneDNN's inner product is "gemm:jit", no faster than OpenBLAS's sgemm):
/// elsewhere init returns nil and the caller keeps OpenBLAS.
///
/// Calls run at most `rowsPerCall` rows (more in sub-batches; the source of 64 rows of 784
/// floats is 200 KB, within L2); primitives exist per row count 1…rowsPerCall, made on first
/// use and cached. For a given row count the result is the same bits run to run.
public final class DNNLDense: @unchecked Sendable {
    public static let rowsPerCall = 64

    public let n: Int, k: Int
    public let activation: Activation
    /// Floats of scratch one call on one thread needs.
    public let scratchPerCall: Int
    /// The inner-product kernel oneDNN picked, e.g. "brgemm:avx512_core".
    public let implementation: String

    private let engine: DNNLEngine
    private let contexts: DNNLContextPool
    private let weights: DNNLBuffer
    private let weightLayout: DNNLLayout
    /// Bias, post-ops and their operands, and the activation's part left to Swift.
    private let epilogue: DNNLEpilogue
    private let channel: DNNLLayout
    private let cache = Mutex<[Int: DNNLPrimitive]>([:])

    /// nil when oneDNN has no brgemm primitive for this product (the caller keeps GEMM).
    /// `weight` is (n, k) row-major with `transB`, else (k, n); `scale`, `shift` per output
    /// column (nil: 1, 0).
    public init?(n: Int, k: Int, weight: [Float], transB: Bool, scale: [Float]?, shift: [Float]?, activation: Activation) {
        guard let engine = DNNL.engine, n > 0, k > 0, weight.count == n * k,
              scale.map({ $0.count == n }) ?? true, shift.map({ $0.count == n }) ?? true,
              let channel = DNNLLayout([1, n], dnnl_ab) else { return nil }
        self.engine = engine
        self.n = n
        self.k = k
        self.activation = activation
        self.channel = channel
        contexts = DNNLContextPool(engine: engine)
        let epilogue = DNNLEpilogue(scale: scale, shift: shift, activation: activation, channel: channel)
        self.epilogue = epilogue
        let ops = epilogue.postOps, bias = epilogue.bias

        // Primitives are made for one OpenMP thread, as every call runs (their scratchpad and
        // work split are fixed at creation by the creating thread's OpenMP setting).
        DNNL.useThreads(1)
        guard let plainWeights = DNNLLayout([n, k], transB ? dnnl_oi : dnnl_io), let anyWeights = DNNLLayout([n, k], dnnl_format_tag_any),
              let first = DNNLDense.makePrimitive(rows: DNNLDense.rowsPerCall, n: n, k: k, weights: anyWeights, hasBias: bias != nil,
                                                  postOps: ops, engine: engine),
              first.implementation.hasPrefix("brgemm"),
              let chosen = first.layout(dnnl_query_weights_md) else { return nil }
        implementation = first.implementation
        weightLayout = chosen
        guard let reordered = DNNLBuffer.reordered(weight, from: plainWeights, to: chosen, engine: engine) else { return nil }
        weights = reordered
        // oneDNN's scratchpad may grow with the rows; twice the largest of 1 and `rowsPerCall`
        // rows leaves room (a count that needs more runs GEMM instead).
        let one = DNNLDense.makePrimitive(rows: 1, n: n, k: k, weights: chosen, hasBias: bias != nil, postOps: ops, engine: engine)
        scratchPerCall = 2 * (max(first.scratchpadBytes, one?.scratchpadBytes ?? 0) + 63) / 4 + 16
        cache.withLock {
            $0[DNNLDense.rowsPerCall] = first
            if let one { $0[1] = one }
        }
    }

    private static func makePrimitive(rows: Int, n: Int, k: Int, weights: DNNLLayout, hasBias: Bool, postOps: [DNNLPostOp],
                                      engine: DNNLEngine) -> DNNLPrimitive? {
        guard let src = DNNLLayout([rows, k], dnnl_ab), let dst = DNNLLayout([rows, n], dnnl_ab), let b = DNNLLayout([n], dnnl_x),
              let attr = DNNLAttributes(), attr.setPostOps(postOps) else { return nil }
        var desc = dnnl_inner_product_desc_t()
        var s = src.desc, w = weights.desc, d = dst.desc, bd = b.desc
        let status = hasBias
            ? dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &s, &w, &bd, &d)
            : dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &s, &w, nil, &d)
        guard status == dnnl_success else { return nil }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &desc, attr.handle, engine.handle, nil) == dnnl_success, let pd else { return nil }
        return DNNLPrimitive(descriptor: pd)
    }

    /// The primitive for `rows` rows (made and cached on first use), nil if oneDNN refuses it
    /// or it would need more scratch than `scratchPerCall`.
    private func primitive(_ rows: Int) -> DNNLPrimitive? {
        if let p = cache.withLock({ $0[rows] }) { return p }
        guard let p = DNNLDense.makePrimitive(rows: rows, n: n, k: k, weights: weightLayout, hasBias: epilogue.bias != nil, postOps: epilogue.postOps,
                                              engine: engine),
              p.layout(dnnl_query_weights_md) == weightLayout, p.scratchpadBytes <= scratchPerCall * 4 - 64 else { return nil }
        cache.withLock { $0[rows] = p }
        return p
    }

    /// y (rows, n) from x (rows, k). `scratch` holds `scratchPerCall` floats, or
    /// `Parallel.ways` times that with `parallel` (the rows are then split over bnc's threads
    /// when the product is large enough, each calling oneDNN with one OpenMP thread). False
    /// when oneDNN failed (nothing is then promised about y: the caller runs GEMM).
    public func forward(rows: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, parallel: Bool) -> Bool {
        if parallel && Parallel.isEnabled && rows >= 2 * Parallel.ways && rows * n * k >= GEMM.parallelThreshold {
            return DNNL.splitOverThreads(rows, input: x, inputStride: k, output: y, outputStride: n, scratch: scratch,
                                         scratchPerCall: scratchPerCall) { m, x, y, scratch in
                forwardSerial(rows: m, input: x, output: y, scratch: scratch)
            }
        }
        return forwardSerial(rows: rows, input: x, output: y, scratch: scratch)
    }

    private func forwardSerial(rows: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
                               scratch: UnsafeMutablePointer<Float>) -> Bool {
        DNNL.useThreads(1)
        let raw = UnsafeMutableRawPointer(scratch)
        let pad = raw + ((64 - Int(bitPattern: raw) % 64) % 64)
        var first = 0
        while first < rows {
            let m = min(DNNLDense.rowsPerCall, rows - first)
            guard let p = primitive(m) else { return false }
            let ok = contexts.with { c -> Bool in
                // Memory slots: 0 source, 1 destination, 2 weights, 3 bias, 4 scratchpad, 5… post-op operands.
                guard let src = c.memory(0, DNNLLayout([m, k], dnnl_ab)!, UnsafeMutableRawPointer(mutating: x + first * k), engine: engine),
                      let dst = c.memory(1, DNNLLayout([m, n], dnnl_ab)!, UnsafeMutableRawPointer(y + first * n), engine: engine),
                      let w = c.memory(2, weightLayout, weights.pointer, engine: engine) else { return false }
                var args = [(DNNLArgument.src, src), (DNNLArgument.weights, w), (DNNLArgument.dst, dst)]
                if let bias = epilogue.bias {
                    guard let b = c.memory(3, DNNLLayout([n], dnnl_x)!, bias.pointer, engine: engine) else { return false }
                    args.append((DNNLArgument.bias, b))
                }
                if p.scratchpadBytes > 0 {
                    guard let s = c.memory(4, DNNLLayout([p.scratchpadBytes / 4 + 1], dnnl_a)!, pad, engine: engine) else { return false }
                    args.append((DNNLArgument.scratchpad, s))
                }
                for (i, operand) in epilogue.operands.enumerated() {
                    guard let o = c.memory(5 + i, channel, operand.pointer, engine: engine) else { return false }
                    args.append((DNNLArgument.postOpOperand(i), o))
                }
                return c.execute(p, args)
            }
            guard ok == true else { return false }
            first += m
        }
        if epilogue.swiftActivation != .identity { epilogue.swiftActivation.forwardInPlace(y, count: rows * n) }
        return true
    }
}
