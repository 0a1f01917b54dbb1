import BNCGraph
import BNCKernels

/// ONNX PRelu: y = x < 0 ? slope·x : x, with `slope` broadcast unidirectionally to X (it
/// must broadcast to X's shape without changing it: (C, 1, 1) for a per-channel slope on
/// (N, C, H, W)). Versions 7, 9 and 16 differ only in element types.
struct PRelu: BinaryOperator {
    static let type = "PRelu"
    static let versions = [7, 9, 16]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }
    let operation = BinaryOperation.prelu
    init(_ node: NodeView) throws(ModelError) {}

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.float(0), slope = try inputs.float(1)
        guard Broadcast.fits(slope.shape, into: x.shape) else {
            throw inputs.fail("slope '\(inputs.name(1))' of shape \(shapeText(slope.shape)) does not broadcast to X \(shapeText(x.shape)) (unidirectionally: the slope may not widen X)")
        }
        return [PlanValue(shape: x.shape)]
    }
}
