/// Why a data file (IDX images or labels, an MNIST-format folder) could not be used.
///
/// Rendered as one line `file: place: problem`, e.g.
/// `train-images-idx3-ubyte.gz: byte 2: unknown IDX element type code 0x0A (bnc reads 0x08 unsigned byte and 0x0D float32)`.
/// The CLI treats it as bad input (exit status 2).
public struct DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file (or folder) concerned.
    public var file: String
    /// Where in it: `byte 4`, `header`, `image 17`, `label 3`, a file name inside a folder, ...
    /// Empty when the whole file is concerned.
    public var place: String
    /// What is wrong, as a sentence fragment without a trailing period.
    public var problem: String

    public init(file: String, place: String, problem: String) {
        self.file = file
        self.place = place
        self.problem = problem
    }

    public var description: String {
        var parts: [String] = []
        if !file.isEmpty { parts.append(file) }
        if !place.isEmpty { parts.append(place) }
        parts.append(problem)
        return parts.joined(separator: ": ")
    }
}
