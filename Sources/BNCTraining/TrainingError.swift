/// Why a network could not be built, trained, exported or restored: one line naming the place
/// (a layer, an option, a tensor) and the problem.
public struct TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where: `layer 3 (bn)`, `--arch`, `checkpoint`, `tensor 'bn1.mean'`.
    public var place: String
    /// What is wrong, without a trailing period.
    public var problem: String

    public init(place: String, problem: String) {
        self.place = place
        self.problem = problem
    }

    public var description: String { place.isEmpty ? problem : "\(place): \(problem)" }
}
