import BNCGraph
import BNCKernels

/// ONNX Pow: z = x^y with multidirectional broadcasting, z of X's type. From version 12
/// the exponent may have another type than X: an integer exponent is known while planning
/// and becomes a FLOAT constant (exact for |y| < 2²⁴). 13 and 15 add element types.
/// INT64/INT32 bases (from version 12; shape arithmetic, while planning) take integer
/// exponents ≥ 0 and must not overflow.
struct Pow: BinaryOperator {
    static let type = "Pow"
    static let versions = [7, 12, 13, 15]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }
    let operation = BinaryOperation.pow
    init(_ node: NodeView) throws(ModelError) {}

    func integer(_ a: Int64, _ b: Int64) -> Int64? {
        guard b >= 0 else { return nil }
        var result: Int64 = 1, base = a, e = b
        while e > 0 {
            if e & 1 == 1 {
                let (r, o) = result.multipliedReportingOverflow(by: base)
                if o { return nil }
                result = r
            }
            e >>= 1
            if e > 0 {
                let (s, o) = base.multipliedReportingOverflow(by: base)
                if o { return nil }
                base = s
            }
        }
        return result
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0), y = try inputs.value(1)
        guard let shape = Broadcast.shape(x.shape, y.shape) else {
            throw inputs.fail("shapes \(shapeText(x.shape)) and \(shapeText(y.shape)) do not broadcast")
        }
        if x.type.isInteger {
            guard inputs.view.version >= 12 else {
                throw inputs.fail("base '\(inputs.name(0))' is \(x.type.name); Pow-\(inputs.view.version) is defined on FLOAT (integers from version 12)", kind: .unsupportedDataType)
            }
            guard y.type.isInteger else {
                throw inputs.fail("base '\(inputs.name(0))' is \(x.type.name) and exponent '\(inputs.name(1))' FLOAT; bnc raises integers to integer powers only", kind: .unsupportedDataType)
            }
            return [try integerResult(inputs, x, PlanValue(shape: y.shape, type: x.type, contents: y.contents), shape: shape) { a, b in integer(a, b) }]
        }
        if y.type.isInteger {
            guard inputs.view.version >= 12 else {
                throw inputs.fail("exponent '\(inputs.name(1))' is \(y.type.name); Pow-\(inputs.view.version) needs it FLOAT like the base (other exponent types from version 12)", kind: .unsupportedDataType)
            }
            _ = try exponent(inputs)
        }
        return [PlanValue(shape: shape)]
    }

    /// An integer exponent as floats (known while planning).
    private func exponent(_ inputs: Inputs) throws(ModelError) -> [Float] {
        let e = try inputs.constantInts(1, role: "exponent")
        guard e.allSatisfy({ $0 >= -(1 << 24) && $0 <= 1 << 24 }) else {
            throw inputs.fail("exponent '\(inputs.name(1))' has values beyond ±2²⁴, which FLOAT does not hold exactly", kind: .badValue)
        }
        return e.map(Float.init)
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        guard let y = l.inputs[1], y.type.isInteger else { return try lowerBinary(&l) }
        let x = l.inputs[0]!
        let e = l.constant(try exponent(l.inputs), shape: y.shape)
        l.emit(BinaryStep(.pow, a: try l.value(0), aShape: x.shape, aRuntime: !l.isConstant(0),
                          b: e, bShape: y.shape, bRuntime: false, y: l.output(), shape: l.outputs[0].shape))
    }
}
