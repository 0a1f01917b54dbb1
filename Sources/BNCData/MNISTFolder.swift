/// A folder in the MNIST layout: the four files `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each plain
/// or gzip-compressed with a `.gz` suffix (Fashion-MNIST uses the same names).
public enum MNISTFolder {
    /// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The base names of the four files.
    public static let trainImages = "train-images-idx3-ubyte"
    public static let trainLabels = "train-labels-idx1-ubyte"
    public static let testImages = "t10k-images-idx3-ubyte"
    public static let testLabels = "t10k-labels-idx1-ubyte"

    /// Loads the training and test sets (10 classes), pixels kept as bytes. Each file is looked
    /// up plain first, then with `.gz`; either may be compressed (content decides).
    public static func load(directory: String = defaultDirectory) throws(DataError) -> (train: LabeledImages, test: LabeledImages) {
        // Find all four first: a missing file is reported before anything is read.
        let paths = try [trainImages, trainLabels, testImages, testLabels].map { (name) throws(DataError) -> String in
            try locate(name, in: directory)
        }
        let train = try LabeledImages(imagesPath: paths[0], labelsPath: paths[1])
        let test = try LabeledImages(imagesPath: paths[2], labelsPath: paths[3])
        if train.images.height != test.images.height || train.images.width != test.images.width {
            throw DataError(
                file: directory, place: "",
                problem: "training images are \(train.images.height)×\(train.images.width) but test images are \(test.images.height)×\(test.images.width)")
        }
        return (train, test)
    }

    /// The path of `name` or `name.gz` in `directory`, or an error saying what to do.
    public static func locate(_ name: String, in directory: String) throws(DataError) -> String {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        for candidate in [base + name, base + name + ".gz"] where isRegularFile(candidate) {
            return candidate
        }
        let folderState = isDirectory(directory) ? "" : " (the folder does not exist)"
        throw DataError(
            file: directory, place: name,
            problem: "missing: neither \(name) nor \(name).gz is in this folder\(folderState); install Fashion-MNIST with 'apt-get install dataset-fashion-mnist' or point --data DIR at a folder holding the four MNIST-format files")
    }
}

import BNCFileSystem

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func fileType(_ path: String) -> Int? {
    guard let info = BytePath.status(path) else { return nil }
    return Int(info.st_mode) & 0o170000
}

private func isRegularFile(_ path: String) -> Bool { fileType(path) == 0o100000 }
private func isDirectory(_ path: String) -> Bool { fileType(path) == 0o040000 }
