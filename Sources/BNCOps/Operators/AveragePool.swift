import BNCGraph
import BNCKernels

/// ONNX AveragePool over X (N, C, spatial…), 1 to 3 spatial dimensions: the mean of each
/// window. `count_include_pad` 0 divides by the taps on the input, 1 by the taps on the
/// padded input (a ceil-mode window past the end padding counts only up to it, as
/// onnxruntime and the onnx reference do: `AveragePooling`). Version 7 has
/// count_include_pad, 10 adds `ceil_mode`, 19 `dilations`; 11 only restates the output-size
/// formulas and 22 adds element types.
struct AveragePool: Operator {
    static let type = "AveragePool"
    static let versions = [7, 10, 11, 19, 22]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 1...1, attributes: WindowAttributes.specs(kernelRequired: true, dilations: version >= 19, ceilMode: version >= 10)
            + [.int("count_include_pad", default: 0)])
    }
    let window: WindowAttributes
    let countIncludePad: Bool

    init(_ node: NodeView) throws(ModelError) {
        window = try WindowAttributes(node)
        countIncludePad = try node.attributes.flag("count_include_pad")
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let (x, win) = try window.poolWindow(inputs)
        return [PlanValue(shape: [x[0], x[1]] + win.output)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let (x, win) = try window.poolWindow(l.inputs)
        let pool: PoolGeometry
        do throws(KernelShapeError) {
            pool = try PoolGeometry(window: win, channels: x[1])
        } catch {
            throw l.fail(error.description)
        }
        l.emit(AveragePoolStep(x: try l.value(0), y: l.output(), geometry: pool, planesPerUnit: x[0] * x[1],
                               countIncludePad: countIncludePad))
    }
}

/// Average pooling of every (N·C) plane.
struct AveragePoolStep: Step {
    let x: ValueID, y: ValueID
    let geometry: PoolGeometry
    let planesPerUnit: Int
    let countIncludePad: Bool

    var reads: [ValueID] { [x] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { [.perUnit, .splitsItself] }
    var summary: String {
        "averagepool \(geometry.window.kernel.map(String.init).joined(separator: "×"))" + (countIncludePad ? " +pad" : "")
    }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        // `batch` counts planes of `channels` each: units × planes per unit / channels.
        AveragePooling.forward(geometry, batch: units.count * planesPerUnit / geometry.channels, countIncludePad: countIncludePad,
                               input: frame.input(x, f), output: frame.pointer(y, f), parallel: !serial)
    }
}
