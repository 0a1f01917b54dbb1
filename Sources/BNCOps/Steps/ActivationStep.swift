import BNCKernels

/// y = f(x) elementwise: every activation operator (Relu, Sigmoid, Clip, LeakyRelu, …)
/// lowers to this, and the step before it usually absorbs it (`epilogue`). A Sigmoid whose
/// output only feeds Mul(x, σ(x)) absorbs that Mul: x·σ(x) (SiLU, as EfficientNet exports
/// spell Swish) is then one pass, which the step before can absorb in turn.
public struct ActivationStep: Step {
    public let x: ValueID, y: ValueID
    /// Floats per unit.
    public let count: Int
    public let activation: Activation

    public init(x: ValueID, y: ValueID, count: Int, activation: Activation) {
        self.x = x
        self.y = y
        self.count = count
        self.activation = activation
    }

    public var reads: [ValueID] { [x] }
    public var writes: [ValueID] { [y] }
    public var traits: StepTraits { .perUnit }
    public var inPlace: Int? { 0 }
    public var epilogue: Epilogue? { .activation(activation) }
    public var summary: String { activation.name }
    public var orderUse: OrderUse { .sameOrder }

    public func fusing(_ next: any Step) -> (any Step)? {
        guard activation == .sigmoid, let mul = next as? BinaryStep, mul.op == .mul, mul.activation == .identity,
              mul.sameShape, mul.shape.reduce(1, *) == count, Set([mul.a, mul.b]) == Set([x, y]) else { return nil }
        return ActivationStep(x: x, y: mul.y, count: count, activation: .swish(alpha: 1))
    }

    public func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        activation.forward(frame.input(x, f), frame.pointer(y, f), count: units.count * count)
    }
}
