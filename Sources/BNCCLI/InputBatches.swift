import BNCData

/// Samples of a model's one FLOAT input, read a batch at a time: `count` samples, each of the
/// executor's `inputCount` floats, row-major.
protocol InputBatches: AnyObject {
    /// Samples in all.
    var count: Int { get }
    /// Reads the next `min(maxCount, remaining)` samples into `buffer`; 0 once all are read.
    func read(maxCount: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws -> Int
}

/// The items of an IDX file, streamed (the 28×28 image conventions of `ModelInput`).
final class IDXBatches: InputBatches {
    let reader: IDXReader
    let scale: Float?

    init(_ reader: IDXReader, scale: Float?) {
        self.reader = reader
        self.scale = scale
    }

    var count: Int { reader.count }

    func read(maxCount: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws -> Int {
        try reader.readBatch(maxCount: maxCount, into: buffer, scale: scale)
    }
}

/// A whole input tensor in memory, dim 0 the batch.
final class TensorBatches: InputBatches {
    let values: [Float]
    let perSample: Int
    let count: Int
    private var position = 0

    init(values: [Float], samples: Int) {
        precondition(samples == 0 ? values.isEmpty : values.count % samples == 0, "\(values.count) values for \(samples) samples")
        self.values = values
        self.count = samples
        self.perSample = samples == 0 ? 0 : values.count / samples
    }

    func read(maxCount: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws -> Int {
        let n = min(maxCount, count - position)
        guard n > 0 else { return 0 }
        values.withUnsafeBufferPointer { src in
            let from = src.baseAddress! + position * perSample
            buffer.baseAddress!.update(from: from, count: n * perSample)
        }
        position += n
        return n
    }
}
