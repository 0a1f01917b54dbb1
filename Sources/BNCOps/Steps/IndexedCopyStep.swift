import BNCKernels

/// y = x moved by an `IndexedCopy`, per unit: Transpose, Slice, Split, Gather, Expand, Tile
/// and Pad at run time.
public struct IndexedCopyStep: Step {
    public let x: ValueID, y: ValueID
    public let copy: IndexedCopy
    /// Pad's value: `fill`, or the one element of `fillValue` when it is a run-time value.
    public let fill: Float
    public let fillValue: ValueID?
    /// Whether the copy leaves dim 0 alone (unit u of y comes from unit u of x); otherwise the
    /// plan runs whole tensors.
    public let perUnit: Bool
    public let summary: String

    public init(
        x: ValueID, y: ValueID, copy: IndexedCopy, fill: Float = 0, fillValue: ValueID? = nil, perUnit: Bool, summary: String
    ) {
        self.x = x
        self.y = y
        self.copy = copy
        self.fill = fill
        self.fillValue = fillValue
        self.perUnit = perUnit
        self.summary = summary
    }

    public var reads: [ValueID] { [x] + (fillValue.map { [$0] } ?? []) }
    public var writes: [ValueID] { [y] }
    public var traits: StepTraits {
        var t: StepTraits = perUnit ? .perUnit : []
        if copy.count >= IndexedCopy.splitMinimum { t.insert(.splitsItself) }
        return t
    }

    public func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        for u in units {
            let f = fillValue.map { frame.input($0, u).pointee } ?? fill
            copy.run(frame.input(x, u), into: frame.pointer(y, u), fill: f, parallel: !serial)
        }
    }
}
