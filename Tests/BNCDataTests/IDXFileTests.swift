import Foundation
import Testing

@testable import BNCData

@Suite struct IDXFileRoundTrip {
    @Test func unsignedBytesPlainAndGzip() throws {
        let pixels = testPixels(3 * 4 * 5)
        let bytes = idxBytes(type: 0x08, dims: [3, 4, 5], payload: pixels)
        for (name, data) in [("plain", bytes), ("gz", gzip(bytes))] {
            let file = try IDXFile.parse(data, path: name)
            #expect(file.dims == [3, 4, 5])
            #expect(file.elements == .uint8(pixels))
            #expect(file.elementType == .uint8)
            #expect(file.encoded() == bytes)
        }
    }

    @Test func float32BigEndian() throws {
        let values: [Float] = [0, -1.5, 3.25e-7, 1e30, -0.0, .pi, 42, Float.leastNonzeroMagnitude]
        let bytes = idxBytes(type: 0x0D, dims: [2, 4], payload: bigEndianBytes(values))
        #expect(Array(bytes[12..<16]) == [0, 0, 0, 0])
        #expect(Array(bytes[16..<20]) == [0xBF, 0xC0, 0, 0])  // -1.5 big-endian
        for data in [bytes, gzip(bytes)] {
            let file = try IDXFile.parse(data, path: "f.idx")
            #expect(file.dims == [2, 4])
            guard case .float32(let got) = file.elements else {
                Issue.record("expected float32 elements")
                return
            }
            #expect(got.map(\.bitPattern) == values.map(\.bitPattern))
            #expect(file.encoded() == bytes)
        }
    }

    @Test func labelsAndEmptySet() throws {
        let labels: [UInt8] = [9, 0, 3, 3, 7]
        let file = try IDXFile.parse(idxBytes(type: 0x08, dims: [5], payload: labels), path: "l")
        #expect(file.elements == .uint8(labels))
        let empty = try IDXFile.parse(idxBytes(type: 0x08, dims: [0, 28, 28], payload: []), path: "e")
        #expect(empty.dims == [0, 28, 28])
        #expect(empty.elementCount == 0)
    }

    @Test func fourDims() throws {
        let payload = testPixels(2 * 3 * 2 * 2)
        let file = try IDXFile.parse(idxBytes(type: 0x08, dims: [2, 3, 2, 2], payload: payload), path: "n")
        #expect(file.dims == [2, 3, 2, 2])
        #expect(file.elements == .uint8(payload))
    }

    @Test func readsFilesFromDiskByContentNotName() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = idxBytes(type: 0x08, dims: [2, 2, 2], payload: [1, 2, 3, 4, 5, 6, 7, 8])
        // Compressed without .gz, plain with .gz: content decides.
        let a = folder.appendingPathComponent("images")
        let b = folder.appendingPathComponent("images.gz")
        try write(gzip(bytes), to: a)
        try write(bytes, to: b)
        #expect(try IDXFile.read(path: a.path).elements == .uint8([1, 2, 3, 4, 5, 6, 7, 8]))
        #expect(try IDXFile.read(path: b.path).elements == .uint8([1, 2, 3, 4, 5, 6, 7, 8]))
    }

    @Test func concatenatedGzipMembersAreOneStream() throws {
        let bytes = idxBytes(type: 0x08, dims: [4, 3], payload: testPixels(12))
        let data = gzip(Array(bytes[0..<9])) + gzip(Array(bytes[9...]))
        #expect(try IDXFile.parse(data, path: "m.gz").elements == .uint8(testPixels(12)))
    }
}

@Suite struct IDXFileErrors {
    let good = idxBytes(type: 0x08, dims: [2, 3], payload: [1, 2, 3, 4, 5, 6])

    @Test func describesAsOneLine() {
        let e = DataError(file: "a.idx", place: "byte 4", problem: "bad")
        #expect(e.description == "a.idx: byte 4: bad")
        #expect(!e.description.contains("\n"))
    }

    @Test func wrongMagic() throws {
        var bytes = good
        bytes[1] = 0x01
        let e = try #require(dataError { try IDXFile.parse(bytes, path: "x.idx") })
        #expect(e.file == "x.idx")
        #expect(e.place == "byte 0")
        #expect(e.problem.contains("not an IDX file"))
        #expect(e.problem.contains("0x00 0x01"))
        // A zlib (not gzip) stream is not recognised as compressed: wrong magic.
        let z = try #require(dataError { try IDXFile.parse([0x78, 0x9C, 1, 2, 3, 4, 5, 6], path: "z") })
        #expect(z.place == "byte 0")
    }

    @Test func unknownTypeCode() throws {
        for code: UInt8 in [0x00, 0x0A, 0x0F, 0xFF] {
            var bytes = good
            bytes[2] = code
            let e = try #require(dataError { try IDXFile.parse(bytes, path: "t") })
            #expect(e.place == "byte 2")
            #expect(e.problem.hasPrefix("unknown IDX element type code \(hex(code)); IDX defines 0x08"), "\(e)")
        }
    }

    @Test func imagesAndLabelsAreBytesOrFloat32() throws {
        // The other IDX types are read by IDXTensor/IDXReader, not as images or labels.
        for (code, name) in [(UInt8(0x09), "signed byte"), (0x0B, "int16"), (0x0C, "int32"), (0x0E, "float64")] {
            let width = IDXElementType(rawValue: code)!.byteWidth
            let bytes = idxBytes(type: code, dims: [2, 2], payload: [UInt8](repeating: 0, count: 4 * width))
            let e = try #require(dataError { try IDXFile.parse(bytes, path: "t") })
            #expect(e.description == "t: byte 2: holds \(name) elements (type \(hex(code))); images and labels are unsigned bytes (0x08) or float32 (0x0D)")
        }
    }

    @Test func zeroDimsAreRefusedAndAnyRankUpTo255IsRead() throws {
        var bytes = good
        bytes[3] = 0
        let e = try #require(dataError { try IDXFile.parse(bytes, path: "d") })
        #expect(e.place == "byte 3")
        #expect(e.problem == "the header declares 0 dims; an IDX file has 1 to 255")
        let five = try IDXFile.parse(idxBytes(type: 0x08, dims: [1, 2, 1, 2, 1], payload: [1, 2, 3, 4]), path: "5")
        #expect(five.dims == [1, 2, 1, 2, 1])
        let ones = [UInt32](repeating: 1, count: 255)
        #expect(try IDXFile.parse(idxBytes(type: 0x08, dims: ones, payload: [7]), path: "255").dims.count == 255)
    }

    @Test func dimsProductOverflow() throws {
        let max = UInt32.max
        let e = try #require(dataError { try IDXFile.parse(idxBytes(type: 0x08, dims: [max, max, max, max], payload: []), path: "o") })
        #expect(e.place == "header")
        #expect(e.problem.contains("overflow"))
        // Elements fit, bytes do not: 2^31 · 2^31 float32 = 2^64 bytes.
        let f = try #require(dataError { try IDXFile.parse(idxBytes(type: 0x0D, dims: [1 << 31, 1 << 31], payload: []), path: "o") })
        #expect(f.problem.contains("data size does not fit"), "\(f)")
    }

    @Test func headerClaimsMoreThanTheFile() throws {
        let bytes = Array(good.dropLast(2))
        let e = try #require(dataError { try IDXFile.parse(bytes, path: "short") })
        #expect(e.place == "header")
        #expect(e.problem.hasPrefix("file ends at byte 16 but header declares 6 bytes of data"), "\(e)")
        // A 20-byte file claiming a huge image set is refused before any allocation.
        let huge = idxBytes(type: 0x08, dims: [1_000_000, 1000, 1000], payload: [1, 2, 3, 4])
        let h = try #require(dataError { try IDXFile.parse(huge, path: "huge") })
        #expect(h.problem.contains("header declares 1000000000000 bytes of data"), "\(h)")
    }

    @Test func trailingBytesPlain() throws {
        let e = try #require(dataError { try IDXFile.parse(good + [0], path: "long") })
        #expect(e.place == "byte 18")
        #expect(e.problem.contains("trailing data"), "\(e)")
    }

    @Test func trailingDataInsideGzip() throws {
        let e = try #require(dataError { try IDXFile.parse(gzip(good + [7, 7]), path: "long.gz") })
        #expect(e.place == "byte 18")
        #expect(e.problem.contains("decompressed data continues past"), "\(e)")
    }

    @Test func shortDataInsideGzip() throws {
        let e = try #require(dataError { try IDXFile.parse(gzip(Array(good.dropLast())), path: "s.gz") })
        #expect(e.place == "image 0")
        #expect(e.problem.contains("decompressed data ends at byte 17 but header declares 6 bytes of data"), "\(e)")
    }

    @Test func garbageAfterGzip() throws {
        let e = try #require(dataError { try IDXFile.parse(gzip(good) + [0, 1, 2], path: "g.gz") })
        #expect(e.problem.contains("3 bytes after the end of the gzip data"), "\(e)")
        #expect(e.problem.contains("trailing garbage"))
    }

    @Test func truncatedGzip() throws {
        let data = gzip(idxBytes(type: 0x08, dims: [50, 20], payload: testPixels(1000)))
        // Cut inside the deflate data, inside the 8-byte trailer, and just after the header.
        for keep in [data.count / 2, data.count - 3, 12] {
            let e = try #require(dataError { try IDXFile.parse(Array(data[0..<keep]), path: "t.gz") })
            #expect(e.problem.contains("truncated"), "\(keep): \(e)")
        }
    }

    @Test func corruptGzipChecksum() throws {
        var data = gzip(good)
        data[data.count - 6] ^= 0x40  // inside the CRC-32
        let e = try #require(dataError { try IDXFile.parse(data, path: "c.gz") })
        #expect(e.problem.contains("corrupt gzip data"), "\(e)")
    }

    @Test func gzipBombDeclaringLittleIsStoppedAfterOneExtraByte() throws {
        // 10 declared data bytes followed by 64 MiB of zeros, compressed to ≈ 64 KiB.
        let bytes = idxBytes(type: 0x08, dims: [10], payload: Array(repeating: 1, count: 10))
        let bomb = gzip(bytes, zeroTail: 64 << 20, level: 9)
        #expect(bomb.count < 200_000)
        let reader = try IDXReader(bytes: bomb, path: "bomb.gz")
        let labels = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 10)
        defer { labels.deallocate() }
        let e = try #require(dataError { try reader.readBatch(maxCount: 10, into: labels) })
        #expect(e.place == "byte 18")
        #expect(e.problem.contains("gzip bomb"), "\(e)")
        // Inflated: the 18 declared bytes and the one byte that proves the data goes on.
        #expect(reader.stream.inflatedBytes == 19)
        #expect(dataError { try IDXFile.parse(bomb, path: "bomb.gz") }?.place == "byte 18")
    }

    @Test func gzipDeclaringMoreThanItCanHoldIsRefusedBeforeReading() throws {
        // A few hundred bytes of gzip cannot inflate to 1 GiB (deflate's ratio is ≤ 1032:1).
        let bytes = idxBytes(type: 0x08, dims: [1 << 30], payload: Array(repeating: 0, count: 100))
        let data = gzip(bytes)
        let e = try #require(dataError { try IDXFile.parse(data, path: "claim.gz") })
        #expect(e.place == "header")
        #expect(e.problem.contains("gzip file of \(data.count) bytes inflates to at most"), "\(e)")
    }

    @Test func wholeFileLimit() throws {
        // 3 GiB declared; a second, stored (uncompressed) gzip member of 4 MiB lets the file
        // pass the deflate-ratio bound, so the cap is what refuses it (before anything is
        // allocated or inflated).
        let header = gzip(idxBytes(type: 0x08, dims: [3, 1 << 15, 1 << 15], payload: []))
        let data = header + gzip([], zeroTail: 4 << 20, level: 0)
        let e = try #require(dataError { try IDXFile.parse(data, path: "big.gz") })
        #expect(e.place == "header")
        #expect(e.problem.contains("more than bnc's limit of 2 GiB"), "\(e)")
    }

    @Test func tooShortForAHeader() throws {
        for bytes in [[], [0, 0, 8], [0, 0, 8, 2, 0, 0, 0, 1, 0, 0]] as [[UInt8]] {
            let e = try #require(dataError { try IDXFile.parse(bytes, path: "tiny") })
            #expect(e.place == "header", "\(e)")
        }
        let e = try #require(dataError { try IDXFile.parse(gzip([0, 0]), path: "tiny.gz") })
        #expect(e.problem.contains("decompressed data is only 2 bytes"), "\(e)")
    }

    @Test func nonFiniteFloatsAreRejected() throws {
        for (bad, word) in [(Float.nan, "NaN"), (-Float.infinity, "infinite")] {
            let bytes = idxBytes(type: 0x0D, dims: [2, 1, 2], payload: bigEndianBytes([1, 2, 3, bad]))
            let e = try #require(dataError { try IDXFile.parse(bytes, path: "nan") })
            #expect(e.place == "image 1")
            #expect(e.problem.contains("element 1 is \(word)"), "\(e)")
        }
    }

    @Test func missingFileAndDirectory() throws {
        let e = try #require(dataError { try IDXFile.read(path: "/nonexistent/bnc/x.idx") })
        #expect(e.file == "/nonexistent/bnc/x.idx")
        #expect(e.problem.contains("cannot open"))
        let d = try #require(dataError { try IDXFile.read(path: "/tmp") })
        #expect(d.problem.contains("directory"))
        // Devices and FIFOs are refused, without blocking on open or reading forever.
        let z = try #require(dataError { try IDXFile.read(path: "/dev/zero") })
        #expect(z.problem.contains("not a regular file"))
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let f = try #require(dataError { try IDXFile.read(path: fifo) })
        #expect(f.problem.contains("not a regular file"))
    }
}
