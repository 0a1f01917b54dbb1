import BNCData

/// A data set as training sees it: inputs copied per batch into Float buffers, and targets.
///
/// Image inputs stay UInt8 in memory and are scaled x/255 per batch (`ImageSet.copyBatch`),
/// so 60,000 Fashion-MNIST images cost 47 MB, not 188 MB.
public struct Examples: Sendable {
    /// Per-example input shape: (K) or (C, H, W).
    public let inputShape: [Int]
    public let count: Int
    public let targets: Targets
    private let inputs: Inputs

    public enum Targets: Sendable {
        /// Class indices in 0..<classCount.
        case classes([UInt8], classCount: Int)
        /// One regression target per example.
        case values([Float])
    }

    private enum Inputs: Sendable {
        case images(ImageSet)
        case floats([Float])
    }

    /// Labeled images as flat vectors (H·W) or as (1, H, W) when `asImages`.
    public init(_ data: LabeledImages, asImages: Bool) {
        let im = data.images
        inputShape = asImages ? [1, im.height, im.width] : [im.height * im.width]
        count = data.count
        targets = .classes(data.labels, classCount: data.classCount)
        inputs = .images(im)
    }

    /// Float inputs (count × shape, row-major) with regression targets.
    public init(inputs: [Float], shape: [Int], values: [Float]) {
        precondition(inputs.count == values.count * shape.reduce(1, *), "inputs and targets disagree")
        inputShape = shape
        count = values.count
        targets = .values(values)
        self.inputs = .floats(inputs)
    }

    /// Float inputs (count × shape, row-major) with class labels.
    public init(inputs: [Float], shape: [Int], labels: [UInt8], classCount: Int) {
        precondition(inputs.count == labels.count * shape.reduce(1, *), "inputs and labels disagree")
        precondition(labels.allSatisfy { Int($0) < classCount }, "label out of range")
        inputShape = shape
        count = labels.count
        targets = .classes(labels, classCount: classCount)
        self.inputs = .floats(inputs)
    }

    /// Floats per example.
    public var inputCount: Int { inputShape.reduce(1, *) }

    /// Number of classes, or nil for regression.
    public var classCount: Int? {
        if case .classes(_, let k) = targets { return k }
        return nil
    }

    /// The first `n` examples (all when n ≥ count).
    public func prefix(_ n: Int) -> Examples {
        guard n < count else { return self }
        let k = inputCount
        switch (inputs, targets) {
        case (.images(let im), .classes(let labels, let c)):
            return Examples(shape: inputShape, count: n, targets: .classes(Array(labels[0..<n]), classCount: c),
                            inputs: .images(im.subset(0..<n)))
        case (.floats(let f), .classes(let labels, let c)):
            return Examples(shape: inputShape, count: n, targets: .classes(Array(labels[0..<n]), classCount: c),
                            inputs: .floats(Array(f[0..<(n * k)])))
        case (.images(let im), .values(let v)):
            return Examples(shape: inputShape, count: n, targets: .values(Array(v[0..<n])), inputs: .images(im.subset(0..<n)))
        case (.floats(let f), .values(let v)):
            return Examples(shape: inputShape, count: n, targets: .values(Array(v[0..<n])), inputs: .floats(Array(f[0..<(n * k)])))
        }
    }

    private init(shape: [Int], count: Int, targets: Targets, inputs: Inputs) {
        inputShape = shape
        self.count = count
        self.targets = targets
        self.inputs = inputs
    }

    /// Writes the inputs of `indices` to x (indices.count, inputCount).
    func copyInputs(_ indices: ArraySlice<Int>, into x: UnsafeMutablePointer<Float>) {
        switch inputs {
        case .images(let im):
            im.copyBatch(indices, into: UnsafeMutableBufferPointer(start: x, count: indices.count * inputCount))
        case .floats(let f):
            let k = inputCount
            f.withUnsafeBufferPointer { src in
                var o = 0
                for i in indices {
                    (x + o).update(from: src.baseAddress! + i * k, count: k)
                    o += k
                }
            }
        }
    }

    /// Writes class labels (as Int32) or regression targets of `indices`.
    func copyTargets(_ indices: ArraySlice<Int>, labels: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Float>) {
        switch targets {
        case .classes(let l, _):
            var o = 0
            for i in indices {
                labels[o] = Int32(l[i])
                o += 1
            }
        case .values(let v):
            var o = 0
            for i in indices {
                values[o] = v[i]
                o += 1
            }
        }
    }
}
