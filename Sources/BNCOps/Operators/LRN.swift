import BNCGraph
import BNCKernels

/// ONNX LRN (local response normalization across channels, AlexNet; tflearn's conv nets)
/// over X (N, C, …): y = x / (bias + alpha/size · Σ x²)^beta, the sum over the channels
/// [c − ⌊(size − 1)/2⌋, c + ⌈(size − 1)/2⌉] that exist (`LocalResponseNormalization`).
/// Defaults alpha 1e-4, beta 0.75, bias 1; `size` is required. Version 13 adds element
/// types.
struct LRN: Operator {
    static let type = "LRN"
    static let versions = [1, 13]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 1...1, attributes: [.float("alpha", default: 1e-4), .float("beta", default: 0.75),
                                           .float("bias", default: 1), .int("size", required: true)])
    }
    let alpha: Float, beta: Float, bias: Float
    let size: Int

    init(_ node: NodeView) throws(ModelError) {
        let a = node.attributes
        alpha = try a.finiteFloat("alpha")
        beta = try a.finiteFloat("beta")
        bias = try a.finiteFloat("bias")
        size = try a.int("size", in: 1...(1 << 24))
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.float(0).shape
        guard x.count >= 2 else { throw inputs.fail("LRN needs X (N, C, …), got \(shapeText(x))") }
        return [PlanValue(shape: x)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = try l.inputs.shape(0)
        l.emit(LRNStep(x: try l.value(0), y: l.output(), batchPerUnit: x[0], channels: x[1],
                       spatial: Tensor.elementCount(Array(x[2...])), op: self))
    }
}

/// LRN of every sample of a unit.
struct LRNStep: Step {
    let x: ValueID, y: ValueID
    let batchPerUnit: Int, channels: Int, spatial: Int
    let op: LRN

    var reads: [ValueID] { [x] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { [.perUnit, .splitsItself] }
    var summary: String { "lrn \(op.size)" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        LocalResponseNormalization.forward(batch: units.count * batchPerUnit, channels: channels, spatial: spatial, size: op.size,
                                           alpha: op.alpha, beta: op.beta, bias: op.bias, input: frame.input(x, f),
                                           output: frame.pointer(y, f), parallel: !serial)
    }
}
