/// Why a network could not be built, trained, exported or restored: one line naming the place
/// (a layer, an option, a tensor) and the problem.
public struct TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// What was asked cannot be built or used (a bad spec, data that does not fit, a
        /// checkpoint of other settings).
        case invalid
        /// Training stopped at a loss that is not finite (NaN or ±Inf): going on would only
        /// spread it, like Keras's TerminateOnNaN.
        case diverged
    }

    /// Where: `layer 3 (bn)`, `--arch`, `checkpoint`, `tensor 'bn1.mean'`.
    public var place: String
    /// What is wrong, without a trailing period.
    public var problem: String
    public var kind: Kind

    public init(place: String, problem: String, kind: Kind = .invalid) {
        self.place = place
        self.problem = problem
        self.kind = kind
    }

    public var description: String { place.isEmpty ? problem : "\(place): \(problem)" }
}
