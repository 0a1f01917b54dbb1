import BNCKernels

/// y = f(x) elementwise: every activation operator (Relu, Sigmoid, Clip, LeakyRelu, …)
/// lowers to this, and the step before it usually absorbs it (`epilogue`).
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

    public func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        activation.forward(frame.input(x, f), frame.pointer(y, f), count: units.count * count)
    }
}
