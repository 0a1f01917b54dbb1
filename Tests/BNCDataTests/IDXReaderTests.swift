import Foundation
import Testing

@testable import BNCData

@Suite struct IDXReaderStreaming {
    /// Reads a whole file in batches of `batch` items.
    func readAll(_ reader: IDXReader, batch: Int) throws(DataError) -> [Float] {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: batch * reader.itemElements)
        defer { buffer.deallocate() }
        var all: [Float] = []
        while true {
            let n = try reader.readBatch(maxCount: batch, into: buffer)
            if n == 0 { break }
            all += buffer[0..<(n * reader.itemElements)]
        }
        return all
    }

    @Test func batchesEqualWholeFileRead() throws {
        let pixels = testPixels(37 * 5 * 4, salt: 3)
        let bytes = idxBytes(type: 0x08, dims: [37, 5, 4], payload: pixels)
        let expected = pixels.map { Float($0) / 255 }
        let whole = try ImageSet(IDXFile.parse(bytes, path: "w"))
        let wholeFloats = [Float](unsafeUninitializedCapacity: expected.count) { b, n in
            whole.copyBatch(0..<37, into: b)
            n = expected.count
        }
        #expect(wholeFloats == expected)
        for data in [bytes, gzip(bytes)] {
            for batch in [1, 8, 37, 100] {
                let reader = try IDXReader(bytes: data, path: "s")
                #expect(reader.count == 37)
                #expect(reader.itemDims == [5, 4])
                #expect(reader.itemElements == 20)
                #expect(reader.scaling == "x/255")
                #expect(try readAll(reader, batch: batch) == expected)
                #expect(reader.remaining == 0)
            }
        }
    }

    @Test func streamsFromDiskInSmallPieces() throws {
        // Bigger than the 64 KiB input buffer, so inflate refills many times.
        let pixels = testPixels(300 * 28 * 28, salt: 1)
        let bytes = idxBytes(type: 0x08, dims: [300, 28, 28], payload: pixels)
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plain = folder.appendingPathComponent("p-idx3-ubyte")
        let packed = folder.appendingPathComponent("p-idx3-ubyte.gz")
        try write(bytes, to: plain)
        try write(gzip(bytes, level: 1), to: packed)
        for url in [plain, packed] {
            let reader = try IDXReader(path: url.path)
            #expect(try readAll(reader, batch: 7) == pixels.map { Float($0) / 255 })
        }
    }

    @Test func floatFileAndScale() throws {
        let values: [Float] = (0..<24).map { Float($0) * 0.25 - 2 }
        let bytes = idxBytes(type: 0x0D, dims: [6, 2, 2], payload: bigEndianBytes(values))
        let reader = try IDXReader(bytes: bytes, path: "f")
        #expect(reader.scaling == "x")
        #expect(try readAll(reader, batch: 4) == values)
        let scaled = try IDXReader(bytes: gzip(bytes), path: "f.gz")
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 24)
        defer { buffer.deallocate() }
        #expect(try scaled.readBatch(maxCount: 10, into: buffer, scale: 2) == 6)
        #expect(Array(buffer) == values.map { $0 * 2 })
    }

    @Test func singleImageFile() throws {
        let pixels = testPixels(28 * 28)
        let bytes = idxBytes(type: 0x08, dims: [28, 28], payload: pixels)
        let reader = try IDXReader(bytes: bytes, path: "one")
        #expect(reader.count == 1)
        #expect(reader.itemDims == [28, 28])
        #expect(try readAll(reader, batch: 16) == pixels.map { Float($0) / 255 })
        let image = try ImageSet(IDXFile.parse(bytes, path: "one"))
        #expect(image.count == 1 && image.height == 28 && image.width == 28)
    }

    @Test func labelsAsBytes() throws {
        let labels: [UInt8] = [3, 1, 4, 1, 5, 9, 2, 6]
        let reader = try IDXReader(bytes: gzip(idxBytes(type: 0x08, dims: [8], payload: labels)), path: "l")
        #expect(reader.itemElements == 1 && reader.itemDims == [])
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 5)
        defer { buffer.deallocate() }
        #expect(try reader.readBatch(maxCount: 5, into: buffer) == 5)
        #expect(Array(buffer) == [3, 1, 4, 1, 5])
        #expect(try reader.readBatch(maxCount: 5, into: buffer) == 3)
        #expect(Array(buffer[0..<3]) == [9, 2, 6])
        #expect(try reader.readBatch(maxCount: 5, into: buffer) == 0)
        let floats = try IDXReader(bytes: idxBytes(type: 0x0D, dims: [1], payload: bigEndianBytes([1])), path: "fl")
        #expect(dataError { try floats.readBatch(maxCount: 1, into: buffer) }?.problem.contains("float32") == true)
    }

    @Test func sameErrorsAsWholeFile() throws {
        let bytes = idxBytes(type: 0x08, dims: [4, 2, 2], payload: testPixels(16))
        let cases: [[UInt8]] = [
            Array(bytes.dropLast()),  // short plain: refused when opened
            bytes + [1],  // trailing plain: refused when opened
            gzip(bytes + [1]),  // trailing inside gzip: refused after the last item
            gzip(Array(bytes.dropLast())),  // short gzip: refused at the broken item
            [0, 0, 0x0B, 1, 0, 0, 0, 2, 0, 0],  // int16 with one of its two elements
        ]
        for data in cases {
            let whole = dataError { try IDXFile.parse(data, path: "e") }
            let streamed = dataError { () throws -> [Float] in
                let reader = try IDXReader(bytes: data, path: "e")
                return try readAll(reader, batch: 3)
            }
            #expect(whole != nil)
            #expect(whole == streamed)
        }
    }

    @Test func truncatedGzipIsReportedAtTheItemWhereDataEnds() throws {
        let bytes = idxBytes(type: 0x08, dims: [10, 2, 2], payload: testPixels(40))
        let e = try #require(dataError { () throws -> [Float] in
            try readAll(IDXReader(bytes: gzip(Array(bytes[0..<(16 + 4 * 6 + 2)])), path: "t.gz"), batch: 4)
        })
        #expect(e.place == "image 6")
        #expect(e.problem.contains("ends at byte 42"), "\(e)")
    }
}
