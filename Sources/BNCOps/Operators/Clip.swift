import BNCGraph
import BNCKernels

/// ONNX Clip: y = min(max(x, min), max); when min > max every output is max. ReLU6 is
/// Clip(0, 6), and like Relu it runs inside the product before it.
///
/// Version 6 takes `min` and `max` as attributes (defaults ∓FLT_MAX). From 11 they are the
/// optional inputs 1 and 2 (one value each; omitted means unbounded). Bounds known while
/// planning (initializers, Constants, or computed from them) make Clip one activation that
/// the step before absorbs; bounds computed at run time run as an elementwise Max and Min.
/// 12 and 13 add element types (bnc computes FLOAT).
struct Clip: Operator {
    static let type = "Clip"
    static let versions = [6, 11, 12, 13]
    static func schema(_ version: Int) -> Schema {
        version >= 11
            ? Schema(inputs: 1...3)
            : Schema(inputs: 1...1, attributes: [.float("min", default: -.greatestFiniteMagnitude),
                                                  .float("max", default: .greatestFiniteMagnitude)])
    }
    /// The bounds of version 6 (nil from version 11: they come with the inputs).
    let bounds: (min: Float, max: Float)?

    init(_ node: NodeView) throws(ModelError) {
        guard node.version < 11 else {
            bounds = nil
            return
        }
        let a = node.attributes
        var b: [Float] = []
        for name in ["min", "max"] {
            guard let v = try a.float(name), !v.isNaN else {
                throw node.fail(attribute: name, "is NaN; Clip needs a number", kind: .badValue)
            }
            b.append(v)
        }
        bounds = (b[0], b[1])
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.float(0)
        for (i, role) in [(1, "min"), (2, "max")] where inputs.has(i) {
            let v = try inputs.float(i)
            guard v.count == 1 else {
                throw inputs.fail("\(role) input '\(inputs.name(i))' has shape \(shapeText(v.shape)); Clip takes one number", kind: .badValue)
            }
            if let f = v.floats, f[0].isNaN {
                throw inputs.fail("\(role) input '\(inputs.name(i))' is NaN; Clip needs a number", kind: .badValue)
            }
        }
        return [PlanValue(shape: x.shape)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!
        if let bounds {
            return l.emit(ActivationStep(x: try l.value(0), y: l.output(), count: x.count,
                                         activation: .clip(min: bounds.min, max: bounds.max)))
        }
        let given = [1, 2].filter { l.inputs.has($0) }
        if given.allSatisfy({ l.isConstant($0) }) {
            var b: [Float] = [-.infinity, .infinity]
            for i in given { b[i - 1] = l.inputs[i]!.floats![0] }
            return l.emit(ActivationStep(x: try l.value(0), y: l.output(), count: x.count,
                                         activation: .clip(min: b[0], max: b[1])))
        }
        // Bounds computed at run time: max(x, min), then min(·, max).
        var current = try l.value(0)
        var runtime = !l.isConstant(0)
        for (k, i) in given.enumerated() {
            let out = k == given.count - 1 ? l.output() : l.table.runtime("", shape: x.shape)
            let bound = l.inputs[i]!
            l.emit(BinaryStep(i == 1 ? .max : .min, a: current, aShape: x.shape, aRuntime: runtime, b: try l.value(i),
                              bShape: bound.shape, bRuntime: !l.isConstant(i), y: out, shape: x.shape))
            (current, runtime) = (out, true)
        }
    }
}
