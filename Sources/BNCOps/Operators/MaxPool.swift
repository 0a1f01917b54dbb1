import BNCGraph
import BNCKernels

/// ONNX MaxPool over X (N, C, spatial…), 1 to 3 spatial dimensions: the largest value of
/// each window; padding never wins (`MaxPooling`; a plain 2-D 2×2 window of stride 2 has a
/// fast path and fuses into the Conv before it). Version 8 adds `storage_order` and the
/// Indices output (bnc does not produce Indices; storage_order only concerns them), 10
/// adds `ceil_mode` and `dilations`; 11, 12 and 22 add element types.
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
        l.emit(MaxPoolStep(x: try l.value(0), y: l.output(), geometry: pool, planesPerUnit: x[0] * x[1]))
    }
}

/// Max pooling of every (N·C) plane, or in the chain's order (channels-last or channel blocks)
/// inside a chain of convolutions.
struct MaxPoolStep: Step {
    let x: ValueID, y: ValueID
    let geometry: PoolGeometry
    let planesPerUnit: Int
    /// The order of x and y (`ordered`).
    private(set) var order = ActivationOrder.planes
    /// The pool over one channel block's lanes (channel blocks only).
    private(set) var laneGeometry: PoolGeometry? = nil

    var reads: [ValueID] { [x] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { [.perUnit, .splitsItself] }
    var summary: String { "maxpool \(geometry.window.kernel.map(String.init).joined(separator: "×"))" }

    var orderUse: OrderUse { .sameOrder }

    func ordered(input: ActivationOrder, output: ActivationOrder) -> any Step {
        var s = self
        s.order = input
        if let (_, lanes) = input.asChannelsLast(images: 1, channels: geometry.channels), lanes != geometry.channels {
            // The same window over fewer channels (1 ≤ lanes < C): what `geometry` passed already.
            s.laneGeometry = try! PoolGeometry(window: geometry.window, channels: lanes)
        }
        return s
    }

    var kernel: String { order == .planes ? "bnc" : "bnc \(order.name)" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        // Channel blocks are channels-last images of `lanes` channels each (`asChannelsLast`).
        if let (images, _) = order.asChannelsLast(images: units.count * planesPerUnit / geometry.channels, channels: geometry.channels) {
            MaxPooling.forwardChannelsLast(laneGeometry ?? geometry, batch: images, input: frame.input(x, f),
                                           output: frame.pointer(y, f), parallel: !serial)
            return
        }
        // `batch` counts planes of `channels` each: units × planes per unit / channels.
        MaxPooling.forward(geometry, batch: units.count * planesPerUnit / geometry.channels, input: frame.input(x, f),
                          output: frame.pointer(y, f), argmax: nil, parallel: !serial)
    }
}
