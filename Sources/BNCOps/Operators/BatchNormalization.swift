import BNCGraph
import BNCKernels

/// ONNX BatchNormalization at inference: Y = (X − mean)/√(var + ε)·scale + B per channel
/// (axis 1 of X (N, C, …); a rank-1 X has one channel), run as y = x·a_c + b_c with
/// a_c = scale/√(var + ε), b_c = B − mean·a_c computed in Double and rounded once
/// (`BatchNorm.inferenceCoefficients`, shared with training).
///
/// Version 7 has `spatial` (only 1, statistics per channel, is run); 7 and 9 list the
/// training outputs (mean, var, saved_mean, saved_var), 14 and 15 `training_mode` with
/// running_mean and running_var: bnc runs inference graphs, so those outputs must be
/// unused and `training_mode` 0.
struct BatchNormalization: Operator {
    static let type = "BatchNormalization"
    static let versions = [7, 9, 14, 15]
    static func schema(_ version: Int) -> Schema {
        var attributes: [AttributeSpec] = [.float("epsilon", default: 1e-5), .float("momentum", default: 0.9)]
        if version == 7 { attributes.append(.int("spatial", default: 1)) }
        if version >= 14 { attributes.append(.int("training_mode", default: 0)) }
        return Schema(inputs: 5...5, outputs: version >= 14 ? 1...3 : 1...5, attributes: attributes)
    }
    let epsilon: Float

    init(_ node: NodeView) throws(ModelError) {
        let a = node.attributes
        // A non-finite epsilon is legal ONNX (it loads, like a NaN weight); the plan refuses it.
        epsilon = try a.float("epsilon") ?? 1e-5
        try node.refuse("spatial", unless: .int(1), because: "spatial 0 (statistics per element) is not supported")
        if node.schema.attribute("training_mode") != nil, try a.flag("training_mode") {
            throw node.fail("training_mode is 1; bnc reads inference graphs (training_mode 0)")
        }
        if node.node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw node.fail("has \(node.node.outputs.count) outputs; the statistics outputs exist only in training, bnc runs inference graphs (Y only)")
        }
    }

    /// Scale, B, mean and var of one length, and var + ε > 0 for every channel: otherwise
    /// every output of that channel is NaN or ±Inf, whatever the input.
    static func checkConstants(_ node: NodeView, _ constants: [Tensor?]) throws(ModelError) {
        let names = ["scale", "B", "mean", "var"]
        let given = (1...4).compactMap { i -> (String, Tensor)? in
            guard i < constants.count, let t = constants[i] else { return nil }
            return (names[i - 1], t)
        }
        if let first = given.first, let other = given.first(where: { $0.1.count != first.1.count }) {
            throw node.fail("\(first.0) '\(first.1.name)' has \(first.1.count) values but \(other.0) '\(other.1.name)' has \(other.1.count); they must be one per channel", kind: .badShape)
        }
        let epsilon = (try? BatchNormalization(node))?.epsilon ?? 1e-5
        if constants.count > 4, let v = constants[4], let values = v.floats {
            for (c, x) in values.enumerated() where x.isFinite && epsilon.isFinite && !(Double(x) + Double(epsilon) > 0) {
                throw node.fail("var '\(v.name)' channel \(c) is \(x) with epsilon \(epsilon): var + epsilon must be positive (the channel's outputs would be NaN or infinite)", kind: .badValue)
            }
        }
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        guard epsilon.isFinite else {
            throw inputs.view.fail(attribute: "epsilon", "is \(epsilon); it must be finite", kind: .badValue)
        }
        let x = try inputs.float(0).shape
        let channels = x.count >= 2 ? x[1] : 1
        for (i, role) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
            let s = try inputs.float(i).shape
            guard s.reduce(1, *) == channels, s.count <= 1 else {
                throw inputs.fail("\(role) '\(inputs.name(i))' has shape \(shapeText(s)); X \(shapeText(x)) has \(channels) channels")
            }
        }
        return [PlanValue(shape: x)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let channels = x.count >= 2 ? x[1] : 1
        let outer = x.count >= 2 ? x[0] : x.reduce(1, *)
        let inner = x.count >= 2 ? x[2...].reduce(1, *) : 1
        let a: ValueID, b: ValueID
        if (1...4).allSatisfy(l.isConstant) {
            var ca = [Float](repeating: 0, count: channels), cb = ca
            try Self.coefficients((1...4).map { i throws(ModelError) in try l.inputs.constantFloats(i, role: "BN") },
                                  epsilon: epsilon, channels: channels, a: &ca, b: &cb)
            (a, b) = (l.constant(ca, shape: [channels]), l.constant(cb, shape: [channels]))
        } else {
            // Statistics computed at run time (ONNX's node tests feed them as inputs).
            a = l.table.runtime("", shape: [channels])
            b = l.table.runtime("", shape: [channels])
            l.emit(BatchNormCoefficientsStep(parameters: try (1...4).map { i throws(ModelError) in try l.value(i) },
                                             a: a, b: b, channels: channels, epsilon: epsilon))
        }
        l.emit(ChannelAffineStep(x: try l.value(0), y: l.output(), outer: outer, channels: channels, inner: inner,
                                 scale: a, shift: b, table: l.table))
    }

    /// a = scale/√(var + ε), b = B − mean·a in Double, rounded once (`BatchNorm`'s kernel).
    static func coefficients(_ p: [[Float]], epsilon: Float, channels: Int, a: inout [Float], b: inout [Float]) throws(ModelError) {
        p[0].withUnsafeBufferPointer { g in
            p[1].withUnsafeBufferPointer { be in
                p[2].withUnsafeBufferPointer { mu in
                    p[3].withUnsafeBufferPointer { v in
                        BatchNorm.inferenceCoefficients(
                            scale: g.baseAddress!, bias: be.baseAddress!, mean: mu.baseAddress!, variance: v.baseAddress!,
                            epsilon: Double(epsilon), channels: channels, a: &a, b: &b)
                    }
                }
            }
        }
    }
}

/// The per-channel coefficients of an inference BN whose statistics are runtime values.
struct BatchNormCoefficientsStep: Step {
    let parameters: [ValueID]
    let a: ValueID, b: ValueID
    let channels: Int
    let epsilon: Float

    var reads: [ValueID] { parameters }
    var writes: [ValueID] { [a, b] }
    var traits: StepTraits { [] }
    var summary: String { "bn coefficients \(channels)" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let p = parameters.map { frame.input($0, 0) }
        BatchNorm.inferenceCoefficients(scale: p[0], bias: p[1], mean: p[2], variance: p[3], epsilon: Double(epsilon),
                                        channels: channels, a: frame.pointer(a, 0), b: frame.pointer(b, 0))
    }
}
