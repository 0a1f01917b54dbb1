import BNCGraph
import BNCKernels

/// An elementwise operator of two inputs with multidirectional broadcasting (Add, Sub, Mul,
/// Div; PRelu and Pow with shape rules of their own): the shape rule, the integer
/// arithmetic of shape subgraphs, and the lowering are shared; each file gives the
/// operation.
protocol BinaryOperator: Operator {
    var operation: BinaryOperation { get }
    /// Integer semantics for shape arithmetic: nil where the result is undefined (overflow,
    /// division by zero), which refuses the node.
    func integer(_ a: Int64, _ b: Int64) -> Int64?
}

extension BinaryOperator {
    func integer(_ a: Int64, _ b: Int64) -> Int64? { nil }

    public func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let a = try inputs.value(0), b = try inputs.value(1)
        guard a.type == b.type else {
            throw inputs.fail("inputs are \(a.type.name) and \(b.type.name); \(inputs.view.node.opType) needs one type", kind: .unsupportedDataType)
        }
        guard let shape = Broadcast.shape(a.shape, b.shape) else {
            throw inputs.fail("shapes \(shapeText(a.shape)) and \(shapeText(b.shape)) do not broadcast")
        }
        if a.type == .float { return [PlanValue(shape: shape)] }
        return [try integerResult(inputs, a, b, shape: shape) { x, y in integer(x, y) }]
    }

    public func lower(_ l: inout Lowering) throws(ModelError) { try lowerBinary(&l) }

    /// The lowering of `operation` on inputs 0 and 1 into output 0: a per-channel affine
    /// when one operand is a runtime value of the output's shape and the other a constant
    /// along one axis (Add, Sub, Mul), a `BinaryStep` otherwise.
    func lowerBinary(_ l: inout Lowering) throws(ModelError) {
        let shape = l.outputs[0].shape
        let a = l.inputs[0]!, b = l.inputs[1]!
        // A runtime operand of the output's shape and a constant that varies along one axis
        // (a bias, a per-channel scale): an affine step the product before it can absorb.
        for (x, c) in [(0, 1), (1, 0)] where !l.isConstant(x) && l.isConstant(c) && l.inputs[x]!.shape == shape {
            guard let (outer, channels, inner, _) = Broadcast.singleAxis(l.inputs[c]!.shape, in: shape),
                  let values = l.inputs[c]!.floats else { continue }
            let expanded = values.count == channels ? values : [Float](repeating: values[0], count: channels)
            // x + c, x − c = x + (−c), c − x = x·(−1) + c, x·c: each exact as one affine.
            let scale: [Float]?, shift: [Float]?
            switch operation {
            case .add: (scale, shift) = (nil, expanded)
            case .sub where x == 0: (scale, shift) = (nil, expanded.map { -$0 })
            case .sub: (scale, shift) = ([Float](repeating: -1, count: channels), expanded)
            case .mul: (scale, shift) = (expanded, nil)
            default: continue
            }
            l.emit(ChannelAffineStep(x: try l.value(x), y: l.output(), outer: outer, channels: channels, inner: inner,
                                     scale: scale.map { l.constant($0, shape: [channels]) },
                                     shift: shift.map { l.constant($0, shape: [channels]) }, table: l.table))
            return
        }
        l.emit(BinaryStep(operation, a: try l.value(0), aShape: a.shape, aRuntime: !l.isConstant(0),
                          b: try l.value(1), bShape: b.shape, bRuntime: !l.isConstant(1), y: l.output(), shape: shape))
    }
}

/// The integer result of `f` on a and b broadcast to `shape`, computed while planning
/// (integer tensors never exist at run time): both must be known; bool is refused; a result
/// that overflows its type (INT64, or INT32 for INT32 inputs) or is undefined (`f` gives nil:
/// division by zero) is refused naming the node.
func integerResult(
    _ inputs: Inputs, _ a: PlanValue, _ b: PlanValue, shape: [Int], _ f: (Int64, Int64) -> Int64?
) throws(ModelError) -> PlanValue {
    let op = inputs.view.node.opType
    guard a.type != .bool else {
        throw inputs.fail("inputs are BOOL; \(op) is defined on numbers", kind: .unsupportedDataType)
    }
    guard let x = a.ints, let y = b.ints else {
        throw inputs.fail("computes \(a.type.name) values from run-time data; bnc runs integer tensors only when they are known while planning")
    }
    guard let count = Tensor.checkedElementCount(shape), count <= PlanValue.maximumConstantElements else {
        throw inputs.fail("its \(a.type.name) result \(shapeText(shape)) is larger than bnc computes while planning (\(PlanValue.maximumConstantElements) elements)", kind: .badValue)
    }
    let sa = Broadcast.strides(a.shape, to: shape), sb = Broadcast.strides(b.shape, to: shape)
    let range: ClosedRange<Int64> = a.type == .int32 ? Int64(Int32.min)...Int64(Int32.max) : Int64.min...Int64.max
    var out: [Int64] = []
    out.reserveCapacity(count)
    var failed: (Int64, Int64)? = nil
    forEachIndex(shape) { i in
        let (va, vb) = (x[offset(i, sa)], y[offset(i, sb)])
        if let v = f(va, vb), range.contains(v) {
            out.append(v)
        } else {
            if failed == nil { failed = (va, vb) }
            out.append(0)
        }
    }
    if let (va, vb) = failed {
        throw inputs.fail("\(op) of the \(a.type.name) values \(va) and \(vb) is not defined (overflow or division by zero)", kind: .badValue)
    }
    return PlanValue(shape: shape, ints: out, type: a.type)
}

/// Calls `body` with the multi-index of every element of `shape`, row-major.
func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
    let total = Tensor.elementCount(shape)
    var index = [Int](repeating: 0, count: shape.count)
    for _ in 0..<total {
        body(index)
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            if index[d] < shape[d] { break }
            index[d] = 0
            d -= 1
        }
    }
}

/// Σ index·stride.
func offset(_ index: [Int], _ strides: [Int]) -> Int {
    var o = 0
    for (i, s) in zip(index, strides) { o += i * s }
    return o
}
