import BNCGraph
import BNCKernels

/// An elementwise operator of one or more inputs (Sum, Max, Min, Mean): the inputs are
/// folded pairwise with one `BinaryOperation`, left to right; Mean divides the sum by the
/// number of inputs. The shape rule, the integer arithmetic and the lowering are shared;
/// each file gives the operation.
///
/// Version 6 requires every input to have the same shape (onnxruntime refuses others too);
/// from version 8 they broadcast multidirectionally. One input is its own result (the
/// output aliases it); n inputs lower to n − 1 `BinaryStep`s (and Mean's division), the
/// last of which absorbs an activation after the node (ResNet's Sum + Relu).
protocol VariadicOperator: Operator {
    var operation: BinaryOperation { get }
    /// Whether the result is the mean of the inputs.
    var isMean: Bool { get }
    /// Integer semantics for shape arithmetic (Max, Min); nil refuses integer inputs.
    var integer: ((Int64, Int64) -> Int64?)? { get }
    /// The first version whose type constraints include integers.
    static var integersSince: Int { get }
}

extension VariadicOperator {
    var isMean: Bool { false }
    var integer: ((Int64, Int64) -> Int64?)? { nil }
    static var integersSince: Int { Int.max }

    /// Version 6's schema (inputs of one shape) and the broadcasting ones' are alike.
    static func variadicSchema(_ version: Int) -> Schema { Schema(inputs: 1...Schema.variadic) }

    public func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let view = inputs.view
        var values: [PlanValue] = []
        for i in 0..<inputs.count { values.append(try inputs.value(i)) }
        guard let first = values.first else { throw inputs.fail("has no inputs") }
        for (i, v) in values.enumerated().dropFirst() {
            guard v.type == first.type else {
                throw inputs.fail("inputs are \(first.type.name) ('\(inputs.name(0))') and \(v.type.name) ('\(inputs.name(i))'); \(view.node.opType) needs one type", kind: .unsupportedDataType)
            }
            if view.version < 8, v.shape != first.shape {
                throw inputs.fail("inputs '\(inputs.name(0))' \(shapeText(first.shape)) and '\(inputs.name(i))' \(shapeText(v.shape)) differ in shape; \(view.node.opType)-\(view.version) needs one shape (broadcasting from version 8)")
            }
        }
        guard let shape = Broadcast.shape(values.map(\.shape)) else {
            throw inputs.fail("input shapes \(values.map { shapeText($0.shape) }.joined(separator: ", ")) do not broadcast")
        }
        if first.type == .float || values.count == 1 { return [PlanValue(shape: shape, type: first.type, contents: values.count == 1 ? first.contents : nil)] }
        guard let f = integer, view.version >= Self.integersSince else {
            let since = Self.integersSince == Int.max ? "" : " (integers from version \(Self.integersSince))"
            throw inputs.fail("inputs are \(first.type.name); \(view.node.opType)-\(view.version) is computed in FLOAT\(since)", kind: .unsupportedDataType)
        }
        var acc = first
        for v in values.dropFirst() {
            acc = try integerResult(inputs, acc, v, shape: Broadcast.shape(acc.shape, v.shape) ?? shape, f)
        }
        return [acc]
    }

    public func lower(_ l: inout Lowering) throws(ModelError) {
        let n = l.inputs.count
        if n == 1 { return l.alias() }
        var acc = try l.value(0)
        var accShape = l.inputs[0]!.shape
        var accRuntime = !l.isConstant(0)
        for i in 1..<n {
            let b = l.inputs[i]!
            guard let shape = Broadcast.shape(accShape, b.shape) else { throw l.fail("input shapes do not broadcast") }
            let out = i == n - 1 && !isMean ? l.output() : l.table.runtime("", shape: shape)
            l.emit(BinaryStep(operation, a: acc, aShape: accShape, aRuntime: accRuntime, b: try l.value(i), bShape: b.shape,
                              bRuntime: !l.isConstant(i), y: out, shape: shape))
            (acc, accShape, accRuntime) = (out, shape, true)
        }
        if isMean {
            l.emit(BinaryStep(.div, a: acc, aShape: accShape, aRuntime: true, b: l.constant([Float(n)], shape: []), bShape: [],
                              bRuntime: false, y: l.output(), shape: accShape))
        }
    }
}
