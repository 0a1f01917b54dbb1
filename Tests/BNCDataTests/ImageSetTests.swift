import Testing

@testable import BNCData

@Suite struct ImageSetTests {
    func floats(_ set: ImageSet, _ indices: [Int]) -> [Float] {
        let n = indices.count * set.pixelsPerImage
        return [Float](unsafeUninitializedCapacity: n) { b, count in
            set.copyBatch(indices, into: b)
            count = n
        }
    }

    @Test func bytesScaleToUnitInterval() {
        let all = ImageSet(count: 16, height: 4, width: 4, storage: .uint8((0...255).map(UInt8.init)))
        #expect(all.scaling == "x/255")
        let got = floats(all, Array(0..<16))
        #expect(got.first == 0 && got.last == 1)
        for (x, v) in zip(0...255, got) {
            // Correctly rounded x/255: within half an ulp of the exact quotient.
            let exact = Double(x) / 255
            #expect(abs(Double(v) - exact) <= Double(v.ulp) / 2, "\(x): \(v)")
        }
    }

    @Test func copyBatchFollowsIndexOrderWithRepeats() {
        let pixels = testPixels(5 * 2 * 3)
        let set = ImageSet(count: 5, height: 2, width: 3, storage: .uint8(pixels))
        let order = [4, 0, 4, 2]
        let got = floats(set, order)
        let want = order.flatMap { i in pixels[(i * 6)..<(i * 6 + 6)].map { Float($0) / 255 } }
        #expect(got == want)
        // Any collection of indices: a range, a slice.
        #expect(floats(set, Array(1..<3)) == Array(pixels[6..<18]).map { Float($0) / 255 })
    }

    @Test func floatStorageIsCopiedAsIs() {
        let values: [Float] = (0..<12).map { Float($0) * -1.25 }
        let set = ImageSet(count: 3, height: 2, width: 2, storage: .float32(values))
        #expect(set.scaling == "x")
        #expect(floats(set, [2, 1]) == Array(values[8..<12] + values[4..<8]))
    }

    @Test func imagesFromIDXFiles() throws {
        let three = try ImageSet(IDXFile.parse(idxBytes(type: 0x08, dims: [3, 2, 5], payload: testPixels(30)), path: "i"))
        #expect((three.count, three.height, three.width) == (3, 2, 5))
        let nchw = try ImageSet(IDXFile.parse(idxBytes(type: 0x08, dims: [3, 1, 2, 5], payload: testPixels(30)), path: "i"))
        #expect(nchw == three)
        let rgb = try IDXFile.parse(idxBytes(type: 0x08, dims: [1, 3, 2, 5], payload: testPixels(30)), path: "rgb")
        #expect(dataError { try ImageSet(rgb) }?.problem.contains("not one-channel images") == true)
        let labels = try IDXFile.parse(idxBytes(type: 0x08, dims: [3], payload: [1, 2, 3]), path: "l")
        #expect(dataError { try ImageSet(labels) }?.problem.contains("not one-channel images") == true)
        let empty = try IDXFile.parse(idxBytes(type: 0x08, dims: [3, 0, 5], payload: []), path: "z")
        #expect(dataError { try ImageSet(empty) }?.problem.contains("empty") == true)
    }

    @Test func labeledImagesChecksCountsAndClasses() throws {
        let images = ImageSet(count: 4, height: 1, width: 2, storage: .uint8(testPixels(8)))
        let short = try #require(dataError { try LabeledImages(images: images, labels: [1, 2, 3], imagesFile: "img", labelsFile: "lab") })
        #expect(short.description == "lab: header: 3 labels but img holds 4 images; the counts must match")
        let bad = try #require(dataError { try LabeledImages(images: images, labels: [1, 2, 10, 3], labelsFile: "lab") })
        #expect(bad.description == "lab: label 2: label 10 is not a class: expected 0 to 9")
        let ok = try LabeledImages(images: images, labels: [9, 0, 1, 2])
        #expect(ok.count == 4 && ok.classCount == 10)
    }

    @Test func splitHoldsOutTheLastItemsDeterministically() throws {
        let n = 10
        let images = ImageSet(count: n, height: 1, width: 3, storage: .uint8(testPixels(3 * n)))
        let data = try LabeledImages(images: images, labels: (0..<n).map { UInt8($0 % 10) })
        let (train, validation) = data.split(validationCount: 3)
        #expect(train.count == 7 && validation.count == 3)
        #expect(train.labels == [0, 1, 2, 3, 4, 5, 6])
        #expect(validation.labels == [7, 8, 9])
        #expect(validation.images.storage == .uint8(Array(testPixels(3 * n)[21..<30])))
        #expect(train.images.storage == .uint8(Array(testPixels(3 * n)[0..<21])))
        let again = data.split(validationCount: 3)
        #expect(again.train == train && again.validation == validation)
        let none = data.split(validationCount: 0)
        #expect(none.train == data && none.validation.count == 0)
    }

    @Test func copyLabels() throws {
        let images = ImageSet(count: 3, height: 1, width: 1, storage: .uint8([0, 0, 0]))
        let data = try LabeledImages(images: images, labels: [7, 3, 5])
        let out = [Int32](unsafeUninitializedCapacity: 4) { b, n in
            data.copyLabels([2, 0, 0, 1], into: b)
            n = 4
        }
        #expect(out == [5, 7, 7, 3])
    }
}
