import CDNNL
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// oneDNN (Debian's libdnnl, 2.x C API), the library behind `DNNLConvolution`: its engine,
/// the ISA it dispatched to, and its OpenMP threads. Every C object of oneDNN lives inside a
/// final class of this group (`DNNLPrimitive`, `DNNLConvolution`) and is destroyed in its
/// `deinit`; nothing of it escapes.
///
/// Threads: Debian's oneDNN runs its parallel regions on OpenMP (libgomp), whose threads spin
/// after each region. bnc calls it from its own threads (`Parallel`) with one OpenMP thread
/// each (`withThreads`), so only one pool of threads is ever busy.
public enum DNNL {
    /// Whether oneDNN is used for the executor's convolutions by default: true unless the
    /// environment sets `BNC_ONEDNN=0` (then bnc's im2col + GEMM kernels run everywhere), and
    /// only when the CPU engine could be created.
    public static let isAvailable: Bool = {
        if let v = getenv("BNC_ONEDNN"), String(cString: v) == "0" { return false }
        return engine != nil
    }()

    /// oneDNN's CPU engine, created once for the process.
    static let engine: DNNLEngine? = DNNLEngine()

    /// The instruction set oneDNN's jit kernels use on this CPU (within `ONEDNN_MAX_CPU_ISA`),
    /// e.g. "avx512_core_bf16", "avx2".
    public static var isa: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: return "sse41"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case let other: return "isa 0x\(String(other.rawValue, radix: 16))"
        }
    }

    /// oneDNN's version, "2.6.3".
    public static var version: String {
        guard let v = dnnl_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.patch)"
    }

    /// `omp_set_num_threads` of the OpenMP runtime libdnnl is linked with, looked up at run
    /// time (libgomp is libdnnl's dependency, not bnc's, and has no unversioned .so to link).
    private static let setOMPThreads: (@convention(c) (Int32) -> Void)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Void).self)
    }()

    /// Sets the OpenMP threads of this thread's next oneDNN calls (an OpenMP setting per
    /// calling thread): 1 when bnc's own threads split the work.
    static func useThreads(_ count: Int) {
        setOMPThreads?(Int32(count))
    }
}

extension DNNL {
    /// `count` units (images, rows) split over bnc's threads: `body(units, x, y, scratch)` on
    /// each non-empty share, with the share's input, output and `scratchPerCall` floats of
    /// scratch (one slice's). False when any share's body failed.
    static func splitOverThreads(
        _ count: Int, input x: UnsafePointer<Float>, inputStride: Int, output y: UnsafeMutablePointer<Float>, outputStride: Int,
        scratch: UnsafeMutablePointer<Float>, scratchPerCall: Int,
        _ body: (Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Bool
    ) -> Bool {
        let failures = Atomic<Int>(0)
        Parallel.forEachSlice { slice in
            let r = Parallel.range(slice, of: count)
            if r.isEmpty { return }
            if !body(r.count, x + r.lowerBound * inputStride, y + r.lowerBound * outputStride, scratch + slice * scratchPerCall) {
                failures.add(1, ordering: .relaxed)
            }
        }
        return failures.load(ordering: .relaxed) == 0
    }
}

/// The CPU engine (one per process).
final class DNNLEngine: @unchecked Sendable {
    let handle: dnnl_engine_t

    init?() {
        var e: dnnl_engine_t?
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { return nil }
        handle = e
    }

    deinit { dnnl_engine_destroy(handle) }
}

/// A memory descriptor: a Swift value (the C struct holds only numbers).
struct DNNLLayout: Equatable {
    var desc: dnnl_memory_desc_t

    /// Plain f32 of `dims` in `tag`'s order (`dnnl_format_tag_any` lets a primitive choose).
    init?(_ dims: [Int], _ tag: dnnl_format_tag_t) {
        var d = dnnl_memory_desc_t()
        let dims64 = dims.map(Int64.init)
        guard dnnl_memory_desc_init_by_tag(&d, Int32(dims.count), dims64, dnnl_f32, tag) == dnnl_success else { return nil }
        desc = d
    }

    init(_ desc: dnnl_memory_desc_t) { self.desc = desc }

    /// Bytes of a buffer in this layout (padding of blocked layouts included).
    var bytes: Int {
        var d = desc
        return dnnl_memory_desc_get_size(&d)
    }

    static func == (a: DNNLLayout, b: DNNLLayout) -> Bool {
        var x = a.desc, y = b.desc
        return dnnl_memory_desc_equal(&x, &y) != 0
    }
}

/// A primitive and the layouts it was created for: owns its primitive descriptor and
/// primitive. Executing it is thread-safe (the scratchpad is the caller's: user mode).
final class DNNLPrimitive: @unchecked Sendable {
    private let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    /// Bytes of scratchpad one execution needs.
    let scratchpadBytes: Int

    /// Takes ownership of `descriptor` (destroyed here even when creation fails).
    init?(descriptor: dnnl_primitive_desc_t) {
        var p: dnnl_primitive_t?
        guard dnnl_primitive_create(&p, descriptor) == dnnl_success, let p else {
            dnnl_primitive_desc_destroy(descriptor)
            return nil
        }
        self.descriptor = descriptor
        primitive = p
        scratchpadBytes = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).map { md in
            var d = md.pointee
            return dnnl_memory_desc_get_size(&d)
        } ?? 0
    }

    /// The layout the primitive chose for one of its arguments (`dnnl_query_src_md`, …).
    func layout(_ what: dnnl_query_t) -> DNNLLayout? {
        dnnl_primitive_desc_query_md(descriptor, what, 0).map { DNNLLayout($0.pointee) }
    }

    /// The implementation oneDNN picked, e.g. "jit:avx512_core".
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return "?" }
        return String(cString: name)
    }

    /// A reorder from `source` to `target`, user scratchpad.
    static func reorder(from source: DNNLLayout, to target: DNNLLayout, engine: DNNLEngine) -> DNNLPrimitive? {
        guard let attr = DNNLAttributes() else { return nil }
        var pd: dnnl_primitive_desc_t?
        var s = source.desc, t = target.desc
        guard dnnl_reorder_primitive_desc_create(&pd, &s, engine.handle, &t, engine.handle, attr.handle) == dnnl_success,
              let pd else { return nil }
        return DNNLPrimitive(descriptor: pd)
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }
}

/// Primitive attributes: user-managed scratchpad (bnc's scratch) and post-ops.
final class DNNLAttributes {
    let handle: dnnl_primitive_attr_t

    init?() {
        var a: dnnl_primitive_attr_t?
        guard dnnl_primitive_attr_create(&a) == dnnl_success, let a else { return nil }
        handle = a
        guard dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user) == dnnl_success else { return nil }
    }

    /// Sets the post-ops: each entry a binary op with a per-channel operand of `channel`
    /// layout, or an eltwise op. False when oneDNN refuses them.
    func setPostOps(_ ops: [DNNLPostOp]) -> Bool {
        var po: dnnl_post_ops_t?
        guard dnnl_post_ops_create(&po) == dnnl_success, let po else { return false }
        defer { dnnl_post_ops_destroy(po) }
        for op in ops {
            switch op {
            case .binary(let alg, let layout):
                var d = layout.desc
                guard dnnl_post_ops_append_binary(po, alg, &d) == dnnl_success else { return false }
            case .eltwise(let alg, let alpha, let beta):
                guard dnnl_post_ops_append_eltwise(po, 1, alg, alpha, beta) == dnnl_success else { return false }
            }
        }
        return dnnl_primitive_attr_set_post_ops(handle, po) == dnnl_success
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}

enum DNNLPostOp {
    case binary(dnnl_alg_kind_t, DNNLLayout)
    case eltwise(dnnl_alg_kind_t, alpha: Float, beta: Float)

    /// oneDNN's eltwise post-op for an activation, nil where it has none (or a different one).
    static func eltwise(for a: Activation) -> DNNLPostOp? {
        switch a {
        case .relu: return .eltwise(dnnl_eltwise_relu, alpha: 0, beta: 0)
        case .leakyRelu(let alpha): return .eltwise(dnnl_eltwise_relu, alpha: alpha, beta: 0)
        case .clip(let lo, let hi) where lo.isFinite && hi.isFinite: return .eltwise(dnnl_eltwise_clip, alpha: lo, beta: hi)
        case .sigmoid: return .eltwise(dnnl_eltwise_logistic, alpha: 0, beta: 0)
        case .tanh: return .eltwise(dnnl_eltwise_tanh, alpha: 0, beta: 0)
        case .elu(let alpha): return .eltwise(dnnl_eltwise_elu, alpha: alpha, beta: 0)
        case .swish(let alpha): return .eltwise(dnnl_eltwise_swish, alpha: alpha, beta: 0)
        case .hardSwish: return .eltwise(dnnl_eltwise_hardswish, alpha: 0, beta: 0)
        case .gelu(let tanh): return .eltwise(tanh ? dnnl_eltwise_gelu_tanh : dnnl_eltwise_gelu_erf, alpha: 0, beta: 0)
        default: return nil
        }
    }
}

/// A product's epilogue as oneDNN runs it, y = act(acc·scale + shift) per output channel: the
/// shift alone is the primitive's bias; with a scale, two binary post-ops (acc·scale, then
/// + shift: the order of bnc's own epilogue) on operands of `channel` layout, or, with
/// `affineInSwift`, `swiftScale` and `swiftShift` applied after the primitive in Swift (the
/// activation then too); the activation an eltwise post-op where oneDNN has it, else
/// `swiftActivation`, applied after, in Swift.
struct DNNLEpilogue {
    let postOps: [DNNLPostOp]
    /// The binary post-ops' operands, in order.
    let operands: [DNNLBuffer]
    let bias: DNNLBuffer?
    /// The per-channel scale and shift left to Swift (`affineInSwift`; shift nil: 0), applied
    /// before `swiftActivation`.
    let swiftScale: DNNLBuffer?, swiftShift: DNNLBuffer?
    /// The part of the activation left to Swift (identity when it is a post-op).
    let swiftActivation: Activation

    init(scale: [Float]?, shift: [Float]?, activation: Activation, channel: DNNLLayout, affineInSwift: Bool = false) {
        if let scale, affineInSwift {
            (postOps, operands, bias) = ([], [], nil)
            (swiftScale, swiftShift, swiftActivation) = (DNNLBuffer(scale), shift.map { DNNLBuffer($0) }, activation)
            return
        }
        (swiftScale, swiftShift) = (nil, nil)
        let eltwise = DNNLPostOp.eltwise(for: activation)
        swiftActivation = eltwise == nil ? activation : .identity
        var ops: [DNNLPostOp] = [], operands: [DNNLBuffer] = []
        if let scale {
            ops.append(.binary(dnnl_binary_mul, channel))
            operands.append(DNNLBuffer(scale))
            if let shift {
                ops.append(.binary(dnnl_binary_add, channel))
                operands.append(DNNLBuffer(shift))
            }
            bias = nil
        } else {
            bias = shift.map { DNNLBuffer($0) }
        }
        if let eltwise { ops.append(eltwise) }
        postOps = ops
        self.operands = operands
    }
}

/// A buffer owned by a oneDNN wrapper (reordered weights, post-op operands), 64-byte aligned.
final class DNNLBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int
    /// The buffer as floats (operands and weights are Float32).
    var floats: UnsafePointer<Float> { UnsafePointer(pointer.assumingMemoryBound(to: Float.self)) }

    init(bytes: Int) {
        self.bytes = max(bytes, 64)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.bytes, alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: self.bytes)
    }

    convenience init(_ floats: [Float]) {
        self.init(bytes: floats.count * MemoryLayout<Float>.size)
        floats.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// `weight` in layout `plain`, reordered once into `chosen` (on this thread, one OpenMP
    /// thread); nil when oneDNN fails.
    static func reordered(_ weight: [Float], from plain: DNNLLayout, to chosen: DNNLLayout, engine: DNNLEngine) -> DNNLBuffer? {
        guard let reorder = DNNLPrimitive.reorder(from: plain, to: chosen, engine: engine) else { return nil }
        let source = DNNLBuffer(weight), target = DNNLBuffer(bytes: chosen.bytes), pad = DNNLBuffer(bytes: reorder.scratchpadBytes)
        DNNL.useThreads(1)
        let ok = DNNLContextPool(engine: engine).with { c -> Bool in
            guard let from = c.memory(0, plain, source.pointer, engine: engine),
                  let to = c.memory(1, chosen, target.pointer, engine: engine) else { return false }
            var args = [(DNNLArgument.from, from), (DNNLArgument.to, to)]
            if reorder.scratchpadBytes > 0, let p = c.memory(2, DNNLLayout([reorder.scratchpadBytes / 4 + 1], dnnl_a)!, pad.pointer, engine: engine) {
                args.append((DNNLArgument.scratchpad, p))
            }
            return c.execute(reorder, args)
        }
        return ok == true ? target : nil
    }

    deinit { pointer.deallocate() }
}

/// One thread's means of executing primitives: a stream and one memory object per argument
/// slot, re-pointed at each call. Contexts are pooled (`DNNLContextPool`), so two threads
/// never share one.
final class DNNLContext: @unchecked Sendable {
    let stream: dnnl_stream_t
    private var memories: [dnnl_memory_t] = []
    private var layouts: [DNNLLayout] = []

    init?(engine: DNNLEngine) {
        var s: dnnl_stream_t?
        guard dnnl_stream_create(&s, engine.handle, dnnl_stream_default_flags.rawValue) == dnnl_success, let s else { return nil }
        stream = s
    }

    /// Memory object number `slot` in `layout`, pointing at `data`.
    func memory(_ slot: Int, _ layout: DNNLLayout, _ data: UnsafeMutableRawPointer, engine: DNNLEngine) -> dnnl_memory_t? {
        while memories.count <= slot {
            var m: dnnl_memory_t?
            var d = layout.desc
            guard dnnl_memory_create(&m, &d, engine.handle, nil) == dnnl_success, let m else { return nil }
            memories.append(m)
            layouts.append(layout)
        }
        if layouts[slot] != layout {
            dnnl_memory_destroy(memories[slot])
            var m: dnnl_memory_t?
            var d = layout.desc
            guard dnnl_memory_create(&m, &d, engine.handle, nil) == dnnl_success, let m else { return nil }
            memories[slot] = m
            layouts[slot] = layout
        }
        guard dnnl_memory_set_data_handle(memories[slot], data) == dnnl_success else { return nil }
        return memories[slot]
    }

    /// Runs `primitive` with `arguments` (oneDNN argument index, memory) and waits for it.
    func execute(_ primitive: DNNLPrimitive, _ arguments: [(Int32, dnnl_memory_t)]) -> Bool {
        let args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        return args.withUnsafeBufferPointer { a in
            dnnl_primitive_execute(primitive.primitive, stream, Int32(a.count), a.baseAddress) == dnnl_success
        } && dnnl_stream_wait(stream) == dnnl_success
    }

    deinit {
        for m in memories { dnnl_memory_destroy(m) }
        dnnl_stream_destroy(stream)
    }
}

/// Contexts for concurrent callers: each call takes one (making one if none is free) and
/// gives it back.
final class DNNLContextPool: @unchecked Sendable {
    private let free = Mutex<[DNNLContext]>([])
    let engine: DNNLEngine

    init(engine: DNNLEngine) { self.engine = engine }

    func with<T>(_ body: (DNNLContext) -> T) -> T? {
        let taken = free.withLock { $0.popLast() }
        guard let context = taken ?? DNNLContext(engine: engine) else { return nil }
        let result = body(context)
        free.withLock { [context] in $0.append(context) }
        return result
    }
}

/// oneDNN's argument numbers (macros in dnnl_types.h).
enum DNNLArgument {
    static let src: Int32 = 1, dst: Int32 = 17, weights: Int32 = 33, bias: Int32 = 41, scratchpad: Int32 = 80
    static let from: Int32 = 1, to: Int32 = 17
    static let diffSrc: Int32 = 129, diffDst: Int32 = 145, diffWeights: Int32 = 161, diffBias: Int32 = 169
    /// The second operand of binary post-op number `index`.
    static func postOpOperand(_ index: Int) -> Int32 { Int32(16384 * (index + 1)) | 2 }
}
