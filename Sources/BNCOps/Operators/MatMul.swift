import BNCGraph
import BNCKernels

/// ONNX MatMul: NumPy matmul. A (…, M, K) · B (…, K, N) → (…, M, N) with the leading
/// dimensions broadcast; a rank-1 A is (1, K) with that dimension dropped from the result,
/// a rank-1 B is (K, 1) likewise.
struct MatMul: Operator {
    static let type = "MatMul"
    static let versions = [1, 9, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }
    init(_ node: NodeView) throws(ModelError) {}

    var foldRole: FoldRole { .linear(weight: 1, axis: 1, groups: 1, bias: nil) }

    /// The product's geometry: batch shape, m, k, n, and the operands' batch shapes.
    struct Geometry {
        var batch: [Int], aBatch: [Int], bBatch: [Int]
        var m: Int, k: Int, n: Int
        var output: [Int]
    }

    static func geometry(_ a: [Int], _ b: [Int], _ inputs: Inputs) throws(ModelError) -> Geometry {
        guard !a.isEmpty, !b.isEmpty else {
            throw inputs.fail("MatMul needs operands of rank ≥ 1, got A \(shapeText(a)) and B \(shapeText(b))")
        }
        let a2 = a.count == 1 ? [1, a[0]] : a, b2 = b.count == 1 ? [b[0], 1] : b
        let m = a2[a2.count - 2], k = a2[a2.count - 1], kb = b2[b2.count - 2], n = b2[b2.count - 1]
        guard k == kb else {
            throw inputs.fail("A \(shapeText(a)) and B \(shapeText(b)) do not share the reduction length (\(k) vs \(kb))")
        }
        let aBatch = Array(a2.dropLast(2)), bBatch = Array(b2.dropLast(2))
        guard let batch = Broadcast.shape(aBatch, bBatch) else {
            throw inputs.fail("the batch dimensions of A \(shapeText(a)) and B \(shapeText(b)) do not broadcast")
        }
        var output = batch
        if a.count > 1 { output.append(m) }
        if b.count > 1 { output.append(n) }
        return Geometry(batch: batch, aBatch: aBatch, bBatch: bBatch, m: m, k: k, n: n, output: output)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        [PlanValue(shape: try Self.geometry(try inputs.float(0).shape, try inputs.float(1).shape, inputs).output)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let a = l.inputs[0]!.shape, b = l.inputs[1]!.shape
        let g = try Self.geometry(a, b, l.inputs)
        if l.isConstant(1) && !l.isConstant(0) && b.count <= 2 {
            // A runtime, B a constant matrix: every row of A, across its leading dimensions
            // and units, is one row of a single product.
            l.emit(GemmStep(a: try l.value(0), y: l.output(), rowsPerUnit: g.batch.reduce(1, *) * g.m, n: g.n, k: g.k,
                            transB: false, alpha: 1, weight: try l.value(1), shift: nil, table: l.table))
            return
        }
        let runtimeRanks = [(0, a), (1, b)].filter { !l.isConstant($0.0) }.map { $0.1.count }
        let perUnit = !runtimeRanks.isEmpty && runtimeRanks.allSatisfy { $0 == g.output.count && $0 >= 3 }
        l.emit(BatchedProductStep(a: try l.value(0), aRuntime: !l.isConstant(0), b: try l.value(1),
                                  bRuntime: !l.isConstant(1), y: l.output(), geometry: g, perUnit: perUnit))
    }
}

/// Y[i] (m, n) = A[i] (m, k) · B[i] (k, n) for every index i of the broadcast batch
/// dimensions: MatMul when B is not a constant matrix.
struct BatchedProductStep: Step {
    let a: ValueID, aRuntime: Bool
    let b: ValueID, bRuntime: Bool
    let y: ValueID
    let geometry: MatMul.Geometry
    let perUnit: Bool

    var reads: [ValueID] { [a, b] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { perUnit ? [.perUnit, .splitsItself, .product] : [.splitsItself, .product] }
    var summary: String { "matmul \(geometry.batch) × (\(geometry.m)×\(geometry.k))·(\(geometry.k)×\(geometry.n))" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let g = geometry
        let batch = g.batch.reduce(1, *)
        let sa = Broadcast.strides(g.aBatch, to: g.batch), sb = Broadcast.strides(g.bBatch, to: g.batch)
        let aSize = g.m * g.k, bSize = g.k * g.n, ySize = g.m * g.n
        for u in units {
            let pa = frame.input(a, aRuntime ? u : 0), pb = frame.input(b, bRuntime ? u : 0), py = frame.pointer(y, u)
            var index = [Int](repeating: 0, count: g.batch.count)
            for i in 0..<batch {
                let oa = offset(index, sa) * aSize, ob = offset(index, sb) * bSize
                if serial {
                    GEMM.multiplySerial(m: g.m, n: g.n, k: g.k, a: pa + oa, lda: g.k, b: pb + ob, ldb: g.n,
                                        c: py + i * ySize, ldc: g.n)
                } else {
                    GEMM.multiply(m: g.m, n: g.n, k: g.k, a: pa + oa, lda: g.k, b: pb + ob, ldb: g.n,
                                  c: py + i * ySize, ldc: g.n)
                }
                var d = g.batch.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < g.batch[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
}
