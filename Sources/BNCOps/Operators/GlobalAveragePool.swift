import BNCGraph
import BNCKernels

/// ONNX GlobalAveragePool: Y (N, C, 1, …) = the mean of each (n, c) plane of X (N, C,
/// spatial…), any number of spatial dimensions. Version 22 adds element types.
struct GlobalAveragePool: Operator {
    static let type = "GlobalAveragePool"
    static let versions = [1, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }

    init(_ node: NodeView) throws(ModelError) {}

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        [PlanValue(shape: try GlobalPoolStep.outputShape(inputs))]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = try l.inputs.shape(0)
        l.emit(GlobalPoolStep(x: try l.value(0), y: l.output(), planesPerUnit: x[0] * x[1], channels: x[1],
                              spatial: Tensor.elementCount(Array(x[2...])), average: true))
    }
}
