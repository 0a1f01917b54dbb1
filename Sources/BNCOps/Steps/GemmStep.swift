import BNCKernels

/// y (rows, n) = act((alpha · A (rows, k) · op(B)) · scale + shift) per unit, with B a
/// constant weight (k, n), or (n, k) with `transB`: Gemm, and MatMul by a constant. The
/// epilogue (Gemm's C, a following Add of a row bias, an unfolded BN, the activation)
/// runs in one pass over each row while it is in cache. Units are consecutive rows, so a
/// whole chunk is one product. Once compiled with oneDNN (constant weights, scale and shift,
/// alpha 1, and a CPU where oneDNN's inner product runs brgemm), products of two or more
/// rows run in one `DNNLDense` (weights packed once, the epilogue as post-ops); one row
/// (batch 1) stays OpenBLAS's split GEMV-like row product, as does any failure at run time.
public struct GemmStep: Step {
    public let a: ValueID
    public private(set) var y: ValueID
    /// Rows of A per unit (1 for a Gemm on a sample; Π leading dims for MatMul).
    public let rowsPerUnit: Int
    public let n: Int, k: Int
    public let transB: Bool
    public let alpha: Float
    public let weight: ValueID
    public private(set) var scale: ValueID?
    public private(set) var shift: ValueID?
    public private(set) var activation: Activation = .identity
    /// Where the planner's constants are, to compose epilogues while fusing.
    let table: ValueTable
    /// The oneDNN inner product (`compiled`), nil for OpenBLAS.
    private(set) var direct: DNNLDense?

    public init(
        a: ValueID, y: ValueID, rowsPerUnit: Int, n: Int, k: Int, transB: Bool, alpha: Float, weight: ValueID,
        shift: ValueID?, table: ValueTable
    ) {
        self.a = a
        self.y = y
        self.rowsPerUnit = rowsPerUnit
        self.n = n
        self.k = k
        self.transB = transB
        self.alpha = alpha
        self.weight = weight
        self.shift = shift
        self.table = table
    }

    public var reads: [ValueID] { [a, weight] + [scale, shift].compactMap { $0 } }
    public var writes: [ValueID] { [y] }
    public var traits: StepTraits { [.perUnit, .splitsItself, .product] }
    public var summary: String {
        "gemm \(k)→\(n)" + (shift != nil ? " +bias" : "") + (scale != nil ? " +scale" : "")
            + (activation == .identity ? "" : " +\(activation.name)")
    }

    public func scratch(serial: Bool) -> Int {
        guard let direct else { return 0 }
        return serial ? direct.scratchPerCall : Parallel.ways * direct.scratchPerCall
    }

    public var kernel: String { direct.map { "onednn \($0.implementation)" } ?? "bnc" }

    public func compiled(_ options: PlanOptions) -> any Step {
        guard options.oneDNN, direct == nil, alpha == 1, let w = table[weight].constant else { return self }
        let s = scale.map { table[$0].constant }, b = shift.map { table[$0].constant }
        if s == .some(nil) || b == .some(nil) { return self }
        var step = self
        step.direct = DNNLDense(n: n, k: k, weight: w, transB: transB, scale: s ?? nil, shift: b ?? nil, activation: activation)
        return step
    }

    public func fusing(_ next: any Step) -> (any Step)? {
        guard activation == .identity else { return nil }
        switch next.epilogue {
        case .activation(let act)?:
            var s = self
            s.activation = act
            s.y = next.writes[0]
            return s
        case .channelAffine(let outer, let channels, let inner, let s2, let b2)?
            where inner == 1 && channels == n && outer == rowsPerUnit && EpilogueAlgebra.constant(s2, b2, table)
                && EpilogueAlgebra.constant(scale, shift, table):
            // ((acc·s) + b)·s2 + b2 = acc·(s·s2) + (b·s2 + b2), composed in Double, rounded once.
            var s = self
            s.y = next.writes[0]
            let (scale, shift) = EpilogueAlgebra.compose(scale: self.scale, shift: self.shift, then: s2, b2, channels: n, table: table)
            s.scale = scale
            s.shift = shift
            return s
        default:
            return nil
        }
    }

    public func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let pa = frame.input(a, units.lowerBound), py = frame.pointer(y, units.lowerBound)
        let w = frame.input(weight, 0)
        let rows = units.count * rowsPerUnit
        if rows >= 2, let direct, direct.forward(rows: rows, input: pa, output: py, scratch: frame.scratch, parallel: !serial) {
            return
        }
        if rows == 1 {
            GEMM.multiplyRow(transB: transB, n: n, k: k, alpha: alpha, x: pa, b: w, y: py, parallel: !serial)
        } else if serial {
            GEMM.multiplySerial(transB: transB, m: rows, n: n, k: k, alpha: alpha, a: pa, lda: k, b: w,
                                ldb: transB ? k : n, beta: 0, c: py, ldc: n)
        } else {
            GEMM.multiply(transB: transB, m: rows, n: n, k: k, alpha: alpha, a: pa, lda: k, b: w,
                          ldb: transB ? k : n, beta: 0, c: py, ldc: n)
        }
        Elementwise.addRowBias(py, rows: rows, columns: n, scale: scale.map { frame.input($0, 0) },
                               bias: shift.map { frame.input($0, 0) }, activation: activation)
    }
}

/// Composing per-channel epilogues while fusing: the arithmetic in Double, rounded once.
enum EpilogueAlgebra {
    /// Whether the given scale and shift are constants (only those can be composed).
    static func constant(_ ids: ValueID?..., in table: ValueTable) -> Bool {
        ids.allSatisfy { id in id.map { table[$0].constant != nil } ?? true }
    }

    static func constant(_ a: ValueID?, _ b: ValueID?, _ table: ValueTable) -> Bool { constant(a, b, in: table) }

    /// (x·s + b)·s2 + b2 as x·S + B, each of `channels` values; nil entries mean 1 or 0.
    static func compose(
        scale s: ValueID?, shift b: ValueID?, then s2: ValueID?, _ b2: ValueID?, channels: Int, table: ValueTable
    ) -> (ValueID?, ValueID?) {
        func values(_ id: ValueID?, _ neutral: Double) -> [Double] {
            guard let id, let v = table[id].constant else { return [Double](repeating: neutral, count: channels) }
            return v.count == channels ? v.map(Double.init) : [Double](repeating: Double(v[0]), count: channels)
        }
        let vs = values(s, 1), vb = values(b, 0), vs2 = values(s2, 1), vb2 = values(b2, 0)
        var scale: [Float] = [], shift: [Float] = []
        for c in 0..<channels {
            scale.append(Float(vs[c] * vs2[c]))
            shift.append(Float(vb[c] * vs2[c] + vb2[c]))
        }
        let newScale = s == nil && s2 == nil ? nil : table.constant(scale, shape: [channels])
        let newShift = b == nil && b2 == nil ? nil : table.constant(shift, shape: [channels])
        return (newScale, newShift)
    }
}
