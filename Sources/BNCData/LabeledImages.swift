/// Images with one class label each (a classification data set).
public struct LabeledImages: Equatable, Sendable {
    public let images: ImageSet
    /// One label per image, each `< classCount`.
    public let labels: [UInt8]
    /// Number of classes (10 for MNIST and Fashion-MNIST).
    public let classCount: Int

    /// Number of examples.
    public var count: Int { images.count }

    /// Pairs images with labels, checking that the counts match and every label is below
    /// `classCount`. `imagesFile`/`labelsFile` name the sources in messages.
    public init(
        images: ImageSet, labels: [UInt8], classCount: Int = 10,
        imagesFile: String = "images", labelsFile: String = "labels"
    ) throws(DataError) {
        precondition(classCount > 0 && classCount <= 256, "classCount \(classCount)")
        if labels.count != images.count {
            throw DataError(
                file: labelsFile, place: "header",
                problem: "\(labels.count) labels but \(imagesFile) holds \(images.count) images; the counts must match")
        }
        if let i = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw DataError(
                file: labelsFile, place: "label \(i)",
                problem: "label \(labels[i]) is not a class: expected 0 to \(classCount - 1)")
        }
        self.images = images
        self.labels = labels
        self.classCount = classCount
    }

    /// Reads a pair of IDX files: images `[N, H, W]` (unsigned byte or float32) and labels `[N]`
    /// (unsigned byte).
    public init(imagesPath: String, labelsPath: String, classCount: Int = 10) throws(DataError) {
        let images = try ImageSet(path: imagesPath)
        let labels = try IDXFile.read(path: labelsPath)
        guard labels.dims.count == 1, case .uint8(let values) = labels.elements else {
            throw DataError(
                file: labelsPath, place: "header",
                problem: "labels must be an IDX file of unsigned bytes with one dim [count], not \(labels.elementType.name) with dims \(labels.dims)")
        }
        try self.init(
            images: images, labels: values, classCount: classCount, imagesFile: imagesPath, labelsFile: labelsPath)
    }

    /// Splits off a validation set deterministically: the LAST `validationCount` examples
    /// become validation, the first `count − validationCount` training, both in file order.
    /// (No shuffling: the same file always gives the same split; shuffle per epoch instead.)
    /// Precondition: `0 ≤ validationCount ≤ count` (callers validate user input first).
    public func split(validationCount: Int) -> (train: LabeledImages, validation: LabeledImages) {
        precondition(validationCount >= 0 && validationCount <= count, "validationCount \(validationCount) outside 0...\(count)")
        let cut = count - validationCount
        return (subset(0..<cut), subset(cut..<count))
    }

    /// The examples in `range`, in order.
    public func subset(_ range: Range<Int>) -> LabeledImages {
        LabeledImages(
            checked: images.subset(range), labels: Array(labels[range]), classCount: classCount)
    }

    /// Writes the labels at `indices` into `buffer` (same order as `ImageSet.copyBatch`).
    /// Precondition: indices in `0..<count`, `buffer.count ≥ indices.count`.
    public func copyLabels(_ indices: some Collection<Int>, into buffer: UnsafeMutableBufferPointer<Int32>) {
        precondition(buffer.count >= indices.count, "buffer holds \(buffer.count) labels; need \(indices.count)")
        var o = 0
        for i in indices {
            buffer[o] = Int32(labels[i])
            o += 1
        }
    }

    private init(checked images: ImageSet, labels: [UInt8], classCount: Int) {
        self.images = images
        self.labels = labels
        self.classCount = classCount
    }
}
