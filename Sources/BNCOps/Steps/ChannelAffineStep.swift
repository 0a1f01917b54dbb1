import BNCKernels

/// y = act(x·scale[c] + shift[c]) for x seen per unit as (outer, channels, inner): an
/// inference BatchNormalization, and an Add/Sub/Mul of a per-channel constant. scale or
/// shift nil means 1 or 0; both are constants of `channels` floats.
public struct ChannelAffineStep: Step {
    public let x: ValueID, y: ValueID
    public let outer: Int, channels: Int, inner: Int
    public let scale: ValueID?, shift: ValueID?
    public let activation: Activation
    /// A buffer of `channels` ones or zeros standing in for a missing scale or shift, so
    /// one kernel runs every case.
    let unit: ValueID?, zero: ValueID?

    public init(
        x: ValueID, y: ValueID, outer: Int, channels: Int, inner: Int, scale: ValueID?, shift: ValueID?,
        activation: Activation = .identity, table: ValueTable
    ) {
        self.init(x: x, y: y, outer: outer, channels: channels, inner: inner, scale: scale, shift: shift,
                  activation: activation,
                  unit: scale == nil ? table.constant([Float](repeating: 1, count: channels), shape: [channels]) : nil,
                  zero: shift == nil ? table.constant([Float](repeating: 0, count: channels), shape: [channels]) : nil)
    }

    init(x: ValueID, y: ValueID, outer: Int, channels: Int, inner: Int, scale: ValueID?, shift: ValueID?,
         activation: Activation, unit: ValueID?, zero: ValueID?) {
        self.x = x
        self.y = y
        self.outer = outer
        self.channels = channels
        self.inner = inner
        self.scale = scale
        self.shift = shift
        self.activation = activation
        self.unit = unit
        self.zero = zero
    }

    public var reads: [ValueID] { [x] + [scale ?? unit, shift ?? zero].compactMap { $0 } }
    public var writes: [ValueID] { [y] }
    public var traits: StepTraits { inner > 1 ? [.perUnit, .splitsItself] : .perUnit }
    public var inPlace: Int? { 0 }
    public var epilogue: Epilogue? {
        activation == .identity ? .channelAffine(outer: outer, channels: channels, inner: inner, scale: scale, shift: shift) : nil
    }
    public var summary: String {
        "affine \(channels)" + (activation == .identity ? "" : " +\(activation.name)")
    }

    public func fusing(_ next: any Step) -> (any Step)? {
        guard activation == .identity, case .activation(let a)? = next.epilogue else { return nil }
        return ChannelAffineStep(x: x, y: next.writes[0], outer: outer, channels: channels, inner: inner, scale: scale,
                                 shift: shift, activation: a, unit: unit, zero: zero)
    }

    public func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        BatchNorm.affine(frame.input(x, f), batch: units.count * outer, channels: channels, spatial: inner,
                         a: frame.input(scale ?? unit!, 0), b: frame.input(shift ?? zero!, 0), activation: activation,
                         into: frame.pointer(y, f), parallel: !serial)
    }
}
