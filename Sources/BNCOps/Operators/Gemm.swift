import BNCGraph
import BNCKernels

/// ONNX Gemm: Y (M, N) = alpha · op(A) · op(B) + beta · C, op = transpose when transA /
/// transB, C unidirectionally broadcastable to (M, N). C is required in versions 7 and 9
/// and optional from 11.
struct Gemm: Operator {
    static let type = "Gemm"
    static let versions = [7, 9, 11, 13]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: version >= 11 ? 2...3 : 3...3, attributes: [
            .float("alpha", default: 1), .float("beta", default: 1), .int("transA", default: 0), .int("transB", default: 0),
        ])
    }
    let alpha: Float, beta: Float
    let transA: Bool, transB: Bool

    init(_ node: NodeView) throws(ModelError) {
        let a = node.attributes
        alpha = try a.finiteFloat("alpha")
        beta = try a.finiteFloat("beta")
        transA = try a.flag("transA")
        transB = try a.flag("transB")
    }

    var foldRole: FoldRole { .linear(weight: 1, axis: transB ? 0 : 1, groups: 1, bias: 2) }

    /// (m, n, k) of the product.
    func sizes(_ inputs: Inputs) throws(ModelError) -> (m: Int, n: Int, k: Int) {
        let a = try inputs.float(0).shape, b = try inputs.float(1).shape
        guard a.count == 2, b.count == 2 else {
            throw inputs.fail("Gemm needs rank-2 A and B, got A \(shapeText(a)) and B \(shapeText(b))")
        }
        let m = transA ? a[1] : a[0], k = transA ? a[0] : a[1]
        let kb = transB ? b[1] : b[0], n = transB ? b[0] : b[1]
        guard k == kb else {
            throw inputs.fail("A \(shapeText(a))\(transA ? "ᵀ" : "") and B \(shapeText(b))\(transB ? "ᵀ" : "") do not share the reduction length (\(k) vs \(kb))")
        }
        return (m, n, k)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let (m, n, _) = try sizes(inputs)
        if inputs.has(2) {
            let c = try inputs.float(2).shape
            guard Broadcast.fits(c, into: [m, n]) else {
                throw inputs.fail("bias C \(shapeText(c)) does not broadcast to the output (\(m), \(n))")
            }
        }
        return [PlanValue(shape: [m, n])]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let (m, n, k) = try sizes(l.inputs)
        var shift: ValueID? = nil
        var fullBias = false
        if l.inputs.has(2), beta != 0 {
            let c = l.inputs[2]!
            if let values = c.floats, c.count == 1 || (c.count == n && c.shape.last == n) {
                shift = l.constant((0..<n).map { j in Float(Double(beta) * Double(values[c.count == 1 ? 0 : j])) }, shape: [n])
            } else {
                fullBias = true
            }
        }
        let y = l.output()
        let product = fullBias ? l.table.runtime("", shape: [m, n]) : y
        if !transA && l.isConstant(1) && !l.isConstant(0) {
            l.emit(GemmStep(a: try l.value(0), y: product, rowsPerUnit: m, n: n, k: k, transB: transB, alpha: alpha,
                            weight: try l.value(1), shift: shift, table: l.table))
        } else {
            l.emit(MatrixProductStep(a: try l.value(0), b: try l.value(1), y: product, m: m, n: n, k: k,
                                     transA: transA, transB: transB, alpha: alpha, shift: shift))
        }
        if fullBias {
            // Y = product + beta·C with C a full (or column) matrix: one broadcast add, C
            // scaled first when beta ≠ 1.
            var c = try l.value(2)
            let cShape = l.inputs[2]!.shape
            if beta != 1 {
                let scaled = l.table.runtime("", shape: cShape)
                let betaValue = l.constant([beta], shape: [])
                l.emit(BinaryStep(.mul, a: c, aShape: cShape, aRuntime: !l.isConstant(2), b: betaValue, bShape: [],
                                  bRuntime: false, y: scaled, shape: cShape))
                c = scaled
            }
            l.emit(BinaryStep(.add, a: product, aShape: [m, n], aRuntime: true, b: c, bShape: cShape,
                              bRuntime: !l.isConstant(2) || beta != 1, y: y, shape: [m, n]))
        }
    }
}

/// Y (m, n) = alpha · op(A) · op(B) (+ shift per column) with any operand a runtime value
/// (A transposed, or B computed): the general product on the whole tensors.
struct MatrixProductStep: Step {
    let a: ValueID, b: ValueID, y: ValueID
    let m: Int, n: Int, k: Int
    let transA: Bool, transB: Bool
    let alpha: Float
    let shift: ValueID?

    var reads: [ValueID] { [a, b] + (shift.map { [$0] } ?? []) }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { [.splitsItself, .product] }
    var summary: String { "gemm \(k)→\(n) (general)" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        for u in units {
            let py = frame.pointer(y, u)
            let pa = frame.input(a, u), pb = frame.input(b, u)
            if serial {
                GEMM.multiplySerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa,
                                    lda: transA ? m : k, b: pb, ldb: transB ? k : n, beta: 0, c: py, ldc: n)
            } else {
                GEMM.multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa,
                              lda: transA ? m : k, b: pb, ldb: transB ? k : n, beta: 0, c: py, ldc: n)
            }
            if let shift {
                Elementwise.addRowBias(py, rows: m, columns: n, bias: frame.input(shift, 0), activation: .identity)
            }
        }
    }
}
