import BNCKernels

/// Whether a pass trains (batch statistics, dropout, saving what backward needs) or infers
/// (moving statistics, no dropout). Passed explicitly to every layer; there is no global phase.
public enum Mode: Sendable {
    case training
    case inference
}

/// One executable layer. Shape legend: N batch; per-example shapes as in `LayerSpec`
/// ((K) for dense features, (C, H, W) for images), stored NCHW row-major.
///
/// Contract: `forward` writes the layer's own output buffer and never modifies its input
/// (the layer before may need its output for backward); `backward` receives dy (N, out),
/// which it may overwrite, and returns dx (N, in) in a buffer it owns or in dy's memory.
/// Parameter gradients are overwritten, not accumulated.
protocol Layer: AnyObject {
    /// Per-example input and output element counts.
    var inputCount: Int { get }
    var outputCount: Int { get }
    /// Grows buffers for batches of up to `batch` examples.
    func reserve(batch: Int)
    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) throws(TrainingError) -> UnsafeMutablePointer<Float>
    /// Returns dx, or nil when `needInputGradient` is false (the first layer).
    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>?
}
