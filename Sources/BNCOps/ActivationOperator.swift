import BNCGraph
import BNCKernels

/// An operator that is one `Activation` applied elementwise (Relu, Sigmoid, Tanh,
/// LeakyRelu, Elu, Clip, HardSigmoid, HardSwish): its file gives the name, versions,
/// schema and the activation; the shape rule and the lowering are these.
protocol ActivationOperator: Operator {
    var activation: Activation { get }
}

extension ActivationOperator {
    public func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        [PlanValue(shape: try inputs.float(0).shape)]
    }

    public func lower(_ l: inout Lowering) throws(ModelError) {
        l.emit(ActivationStep(x: try l.value(0), y: l.output(), count: l.outputs[0].count, activation: activation))
    }
}
