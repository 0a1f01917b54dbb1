import BNCKernels

/// y = act(a ∘ b) with multidirectional broadcasting, per unit (Add, Sub, Mul, Div, Max,
/// Min, PRelu, Pow, and the variadic Sum/Max/Min/Mean as chains of them). Two runtime
/// operands of the output's shape run as one contiguous pass over every unit, with the
/// activation after it fused into the same loop for Add (the residual Add + Relu of ResNets).
public struct BinaryStep: Step {
    public let op: BinaryOperation
    public let a: ValueID, b: ValueID
    public private(set) var y: ValueID
    /// The per-unit output shape and the element strides of a and b over it.
    public let shape: [Int]
    public let aStrides: [Int], bStrides: [Int]
    /// Whether a and b are runtime values (advancing with the unit) or constants.
    public let aRuntime: Bool, bRuntime: Bool
    public private(set) var activation: Activation = .identity

    public init(
        _ op: BinaryOperation, a: ValueID, aShape: [Int], aRuntime: Bool, b: ValueID, bShape: [Int], bRuntime: Bool,
        y: ValueID, shape: [Int]
    ) {
        self.op = op
        self.a = a
        self.b = b
        self.y = y
        self.shape = shape
        self.aStrides = Broadcast.strides(aShape, to: shape)
        self.bStrides = Broadcast.strides(bShape, to: shape)
        self.aRuntime = aRuntime
        self.bRuntime = bRuntime
    }

    private var count: Int { shape.reduce(1, *) }
    private var dense: [Int] { Broadcast.strides(shape, to: shape) }
    /// Both operands runtime values of the output's shape: one pass over all units.
    public var sameShape: Bool { aRuntime && bRuntime && aStrides == dense && bStrides == dense }

    public var reads: [ValueID] { [a, b] }
    public var writes: [ValueID] { [y] }
    public var traits: StepTraits { .perUnit }
    public var inPlace: Int? {
        if aRuntime && aStrides == dense { return 0 }
        if bRuntime && bStrides == dense { return 1 }
        return nil
    }
    public var summary: String { op.rawValue + (activation == .identity ? "" : " +\(activation.name)") }
    public var orderUse: OrderUse { sameShape ? .sameOrder : .none }

    public func fusing(_ next: any Step) -> (any Step)? {
        guard activation == .identity, case .activation(let act)? = next.epilogue else { return nil }
        var s = self
        s.activation = act
        s.y = next.writes[0]
        return s
    }

    public func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let n = count
        if sameShape {
            let f = units.lowerBound
            let pa = frame.input(a, f), pb = frame.input(b, f), py = frame.pointer(y, f)
            if op == .add {
                activation.map(count: units.count * n, into: py) { pa[$0] + pb[$0] }
            } else {
                op.map(count: units.count * n, into: py, pa, 1, pb, 1)
                activation.forwardInPlace(py, count: units.count * n)
            }
            return
        }
        for u in units {
            let py = frame.pointer(y, u)
            Elementwise.binary(op, frame.input(a, aRuntime ? u : 0), strides: aStrides,
                               frame.input(b, bRuntime ? u : 0), strides: bStrides, into: py, shape: shape)
            activation.forwardInPlace(py, count: n)
        }
    }
}
