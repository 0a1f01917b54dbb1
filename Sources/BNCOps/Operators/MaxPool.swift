import BNCGraph
import BNCKernels

/// ONNX MaxPool over X (N, C, spatial…): the largest value of each window; padding never
/// wins. Version 8 adds `storage_order` and the Indices output (bnc does not produce
/// Indices; storage_order only concerns them), 10 adds `ceil_mode` and `dilations`; 11, 12
/// and 22 add element types.
struct MaxPool: Operator {
    static let type = "MaxPool"
    static let versions = [1, 8, 10, 11, 12, 22]
    static func schema(_ version: Int) -> Schema {
        var attributes = WindowAttributes.specs(kernelRequired: true, dilations: version >= 10, ceilMode: version >= 10)
        if version >= 8 { attributes.append(.int("storage_order", default: 0)) }
        return Schema(inputs: 1...1, outputs: version >= 8 ? 1...2 : 1...1, attributes: attributes)
    }
    let window: WindowAttributes

    init(_ node: NodeView) throws(ModelError) {
        window = try WindowAttributes(node)
        if node.node.outputs.count > 1, !node.node.outputs[1].isEmpty {
            throw node.fail("the Indices output '\(node.node.outputs[1])' is used; bnc computes MaxPool's values only", kind: .unsupportedOperator)
        }
        if node.schema.attribute("storage_order") != nil { _ = try node.attributes.int("storage_order", in: 0...1) }
    }

    func geometry(_ inputs: Inputs) throws(ModelError) -> (x: [Int], window: Window) {
        let x = try inputs.float(0).shape
        guard x.count >= 3 else { throw inputs.fail("MaxPool needs X (N, C, spatial…), got \(shapeText(x))") }
        let kernel = window.kernelShape ?? []
        guard kernel.count == x.count - 2 else {
            throw inputs.view.fail(attribute: "kernel_shape", "has \(kernel.count) values for the \(x.count - 2) spatial dimensions of X \(shapeText(x))", kind: .badValue)
        }
        return (x, try window.window(inputs.view, input: Array(x[2...]), kernel: kernel))
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let (x, win) = try geometry(inputs)
        return [PlanValue(shape: [x[0], x[1]] + win.output)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let (x, win) = try geometry(l.inputs)
        guard win.rank <= 2 else { throw l.fail("3-D pooling is not supported yet") }
        let w2 = win.rank == 1 ? Array(repeating: 1, count: 1) : []
        let pool: PoolGeometry
        do throws(KernelShapeError) {
            let input = w2 + win.input, kernel = w2 + win.kernel, strides = w2 + win.strides
            let dilations = w2 + win.dilations, begin = (win.rank == 1 ? [0] : []) + win.padsBegin
            let end = (win.rank == 1 ? [0] : []) + win.padsEnd
            pool = try PoolGeometry(channels: x[1], height: input[0], width: input[1], kernelHeight: kernel[0],
                                    kernelWidth: kernel[1], strides: (strides[0], strides[1]),
                                    pads: (begin[0], begin[1], end[0], end[1]), dilations: (dilations[0], dilations[1]),
                                    ceilMode: win.ceilMode)
        } catch {
            throw l.fail(error.description)
        }
        guard pool.outHeight * pool.outWidth == win.outputCount else {
            throw l.fail("pooling output \(pool.outHeight)×\(pool.outWidth) differs from the window's \(win.output)")
        }
        l.emit(MaxPoolStep(x: try l.value(0), y: l.output(), geometry: pool, planesPerUnit: x[0] * x[1]))
    }
}

/// Max pooling of every (N·C) plane.
struct MaxPoolStep: Step {
    let x: ValueID, y: ValueID
    let geometry: PoolGeometry
    let planesPerUnit: Int

    var reads: [ValueID] { [x] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { [.perUnit, .splitsItself] }
    var summary: String { "maxpool \(geometry.kernelHeight)×\(geometry.kernelWidth)" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        // `batch` counts planes of `channels` each: units × planes per unit / channels.
        MaxPool2D.forward(geometry, batch: units.count * planesPerUnit / geometry.channels, input: frame.input(x, f),
                          output: frame.pointer(y, f), argmax: nil, parallel: !serial)
    }
}
