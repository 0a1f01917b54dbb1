import Foundation
import Testing

@testable import BNCData

@Suite struct MNISTFolderTests {
    /// A tiny MNIST-format folder: 6 training and 4 test images of 3×2, some files gzip.
    func makeFolder(trainLabelCount: UInt32 = 6, skip: String? = nil) throws -> URL {
        let folder = try makeTemporaryFolder()
        let files: [(String, [UInt8], Bool)] = [
            (MNISTFolder.trainImages, idxBytes(type: 0x08, dims: [6, 3, 2], payload: testPixels(36)), true),
            (MNISTFolder.trainLabels, idxBytes(type: 0x08, dims: [trainLabelCount], payload: (0..<trainLabelCount).map { UInt8($0 % 10) }), false),
            (MNISTFolder.testImages, idxBytes(type: 0x08, dims: [4, 3, 2], payload: testPixels(24, salt: 9)), false),
            (MNISTFolder.testLabels, idxBytes(type: 0x08, dims: [4], payload: [9, 8, 7, 6]), true),
        ]
        for (name, bytes, compressed) in files where name != skip {
            try write(compressed ? gzip(bytes) : bytes, to: folder.appendingPathComponent(compressed ? name + ".gz" : name))
        }
        return folder
    }

    @Test func loadsPlainAndGzipFiles() throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (train, test) = try MNISTFolder.load(directory: folder.path)
        #expect(train.count == 6 && test.count == 4)
        #expect(train.images.height == 3 && train.images.width == 2)
        #expect(train.images.storage == .uint8(testPixels(36)))
        #expect(test.labels == [9, 8, 7, 6])
    }

    @Test func missingFileSaysWhatToDo() throws {
        let folder = try makeFolder(skip: MNISTFolder.testLabels)
        defer { try? FileManager.default.removeItem(at: folder) }
        let e = try #require(dataError { try MNISTFolder.load(directory: folder.path) })
        #expect(e.file == folder.path)
        #expect(e.place == "t10k-labels-idx1-ubyte")
        #expect(e.problem.contains("t10k-labels-idx1-ubyte.gz"))
        #expect(e.problem.contains("apt-get install dataset-fashion-mnist"))
        #expect(e.problem.contains("--data DIR"))
        let nowhere = try #require(dataError { try MNISTFolder.load(directory: "/nonexistent/bnc-data") })
        #expect(nowhere.problem.contains("the folder does not exist"))
    }

    @Test func mismatchedCountsNameBothFiles() throws {
        let folder = try makeFolder(trainLabelCount: 5)
        defer { try? FileManager.default.removeItem(at: folder) }
        let e = try #require(dataError { try MNISTFolder.load(directory: folder.path) })
        #expect(e.file.hasSuffix("/train-labels-idx1-ubyte"))
        #expect(e.problem.contains("5 labels but"))
        #expect(e.problem.contains("train-images-idx3-ubyte.gz holds 6 images"))
    }

    static let fashionPresent = FileManager.default.fileExists(
        atPath: MNISTFolder.defaultDirectory + "/" + MNISTFolder.trainImages + ".gz")
        || FileManager.default.fileExists(atPath: MNISTFolder.defaultDirectory + "/" + MNISTFolder.trainImages)

    @Test(.enabled(if: fashionPresent, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); skipped"))
    func realFashionMNIST() throws {
        let (train, test) = try MNISTFolder.load()
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.images.height == 28 && train.images.width == 28)
        guard case .uint8(let pixels) = train.images.storage else {
            Issue.record("training images should be held as bytes")
            return
        }
        #expect(pixels.count == 60_000 * 784)
        // Fashion-MNIST is balanced: 6000 training and 1000 test images per class 0–9.
        var trainCounts = [Int](repeating: 0, count: 10), testCounts = [Int](repeating: 0, count: 10)
        for l in train.labels { trainCounts[Int(l)] += 1 }
        for l in test.labels { testCounts[Int(l)] += 1 }
        #expect(trainCounts == [Int](repeating: 6000, count: 10))
        #expect(testCounts == [Int](repeating: 1000, count: 10))
    }
}
