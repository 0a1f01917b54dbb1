import BNCGraph
import BNCKernels

/// ONNX GlobalMaxPool: Y (N, C, 1, …) = the largest value of each (n, c) plane of X (N, C,
/// spatial…), any number of spatial dimensions (a NaN wins, as in MaxPool). Version 22
/// adds element types.
struct GlobalMaxPool: Operator {
    static let type = "GlobalMaxPool"
    static let versions = [1, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }

    init(_ node: NodeView) throws(ModelError) {}

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        [PlanValue(shape: try GlobalPoolStep.outputShape(inputs))]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = try l.inputs.shape(0)
        l.emit(GlobalPoolStep(x: try l.value(0), y: l.output(), planesPerUnit: x[0] * x[1], channels: x[1],
                              spatial: Tensor.elementCount(Array(x[2...])), average: false))
    }
}

/// The mean or maximum of every (N·C) plane (GlobalAveragePool, GlobalMaxPool). At the end
/// of a chain of convolutions it reads channels-last input too (each image moved to planes in
/// the scratch first, so the sums are the planes kernel's, bit for bit); its output, one value
/// per channel, is the same floats in either order.
struct GlobalPoolStep: Step {
    let x: ValueID, y: ValueID
    let planesPerUnit: Int
    /// Channels per image (planes per unit = images per unit × channels).
    let channels: Int
    let spatial: Int
    let average: Bool
    /// The order of x (`ordered`).
    private(set) var input = ActivationOrder.planes

    /// (N, C, 1, …) for X (N, C, spatial…) of rank ≥ 3 with a non-empty plane.
    static func outputShape(_ inputs: Inputs) throws(ModelError) -> [Int] {
        let x = try inputs.float(0).shape
        guard x.count >= 3 else {
            throw inputs.fail("\(inputs.view.node.opType) needs X (N, C, spatial…) of rank 3 or more, got \(shapeText(x))")
        }
        guard !x[2...].contains(0) else {
            throw inputs.fail("X \(shapeText(x)) has empty planes; \(inputs.view.node.opType) needs at least one value per plane", kind: .badValue)
        }
        return [x[0], x[1]] + Array(repeating: 1, count: x.count - 2)
    }

    var reads: [ValueID] { [x] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { [.perUnit, .splitsItself] }
    var summary: String { (average ? "globalaveragepool " : "globalmaxpool ") + "\(spatial)" }

    var orderUse: OrderUse { .eitherOrder }

    func ordered(input: ActivationOrder, output: ActivationOrder) -> any Step {
        var s = self
        s.input = input
        return s
    }

    var kernel: String { input == .planes ? "bnc" : "bnc \(input.name)" }

    /// One unit's input in planes, for input in a chain's order.
    func scratch(serial: Bool) -> Int { input == .planes ? 0 : planesPerUnit * spatial }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        guard input != .planes else {
            pool(frame.input(x, units.lowerBound), units.count * planesPerUnit, into: frame.pointer(y, units.lowerBound), serial: serial)
            return
        }
        let image = channels * spatial
        for u in units {
            let xu = frame.input(x, u)
            for i in 0..<(planesPerUnit / channels) {
                input.toPlanes(xu + i * image, channels: channels, spatial: spatial, into: frame.scratch + i * image)
            }
            pool(frame.scratch, planesPerUnit, into: frame.pointer(y, u), serial: serial)
        }
    }

    private func pool(_ x: UnsafePointer<Float>, _ planes: Int, into y: UnsafeMutablePointer<Float>, serial: Bool) {
        if average {
            GlobalPooling.average(planes: planes, spatial: spatial, input: x, output: y, parallel: !serial)
        } else {
            GlobalPooling.maximum(planes: planes, spatial: spatial, input: x, output: y, parallel: !serial)
        }
    }
}
