import BNCGraph
import BNCKernels

/// An elementwise operator of two inputs with multidirectional broadcasting (Add, Sub, Mul,
/// Div, Max/Min of two, PRelu with its unidirectional slope): the shape rule, the integer
/// arithmetic of shape subgraphs, and the lowering are shared; each file gives the
/// operation.
protocol BinaryOperator: Operator {
    var operation: BinaryOperation { get }
    /// Integer semantics for shape arithmetic (nil: integers are refused).
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
        // Integer tensors exist only while planning: compute them here.
        guard let x = a.ints, let y = b.ints else {
            throw inputs.fail("integer inputs must be known while planning")
        }
        let sa = Broadcast.strides(a.shape, to: shape), sb = Broadcast.strides(b.shape, to: shape)
        var out: [Int64] = []
        out.reserveCapacity(Tensor.elementCount(shape))
        var failed = false
        forEachIndex(shape) { i in
            let (va, vb) = (x[offset(i, sa)], y[offset(i, sb)])
            if let v = integer(va, vb) { out.append(v) } else { failed = true; out.append(0) }
        }
        if failed {
            throw inputs.fail("\(inputs.view.node.opType) of these \(a.type.name) values is not defined (overflow or division by zero)", kind: .badValue)
        }
        return [PlanValue(shape: shape, ints: out, type: a.type)]
    }

    public func lower(_ l: inout Lowering) throws(ModelError) {
        let shape = l.outputs[0].shape
        let a = l.inputs[0]!, b = l.inputs[1]!
        // A runtime operand of the output's shape and a constant that varies along one axis
        // (a bias, a per-channel scale): an affine step the product before it can absorb.
        for (x, c) in [(0, 1), (1, 0)] where !l.isConstant(x) && l.isConstant(c) && l.inputs[x]!.shape == shape {
            guard let (outer, channels, inner, _) = Broadcast.singleAxis(l.inputs[c]!.shape, in: shape),
                  let values = l.inputs[c]!.floats else { continue }
            let expanded = values.count == channels ? values : [Float](repeating: values[0], count: channels)
            let v: [Float]
            switch operation {
            case .add: v = expanded
            case .sub where x == 0: v = expanded.map { -$0 }
            case .mul: v = expanded
            default: continue
            }
            let constant = l.constant(v, shape: [channels])
            let isScale = operation == .mul
            l.emit(ChannelAffineStep(x: try l.value(x), y: l.output(), outer: outer, channels: channels, inner: inner,
                                     scale: isScale ? constant : nil, shift: isScale ? nil : constant, table: l.table))
            return
        }
        l.emit(BinaryStep(operation, a: try l.value(0), aShape: a.shape, aRuntime: !l.isConstant(0),
                          b: try l.value(1), bShape: b.shape, bRuntime: !l.isConstant(1), y: l.output(), shape: shape))
    }
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
