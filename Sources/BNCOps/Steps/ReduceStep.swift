import BNCKernels

/// The reduction of a value, per unit (the unit's shape; dim 0 is 1 in batch plans).
struct ReduceStep: Step {
    let mode: Reduction.Mode
    let x: ValueID, y: ValueID
    let layout: Reduction.Layout
    /// Dim 0 (the batch) is not reduced: units are independent.
    let perUnit: Bool

    var reads: [ValueID] { [x] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { perUnit ? .perUnit : [] }
    var summary: String { "reduce \(mode.rawValue) \(layout.inputCount)→\(layout.outputCount)" }
    func scratch(serial: Bool) -> Int { Reduction.scratchCount(mode, layout) }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        for u in units {
            Reduction.forward(mode, frame.input(x, u), layout: layout, into: frame.pointer(y, u), scratch: frame.scratch)
        }
    }
}
