import Foundation
import Testing

@testable import BNCData

/// IDX files of every element type and any rank as (dims, [Float]) tensors, whole and
/// streamed.
@Suite struct IDXTensorTests {
    /// Big-endian bytes of each value in the type's width.
    static func payload(_ type: IDXElementType, _ values: [Double]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            switch type {
            case .uint8: return [UInt8(v)]
            case .int8: return [UInt8(bitPattern: Int8(v))]
            case .int16: return withUnsafeBytes(of: Int16(v).bigEndian, Array.init)
            case .int32: return withUnsafeBytes(of: Int32(v).bigEndian, Array.init)
            case .float32: return withUnsafeBytes(of: Float(v).bitPattern.bigEndian, Array.init)
            case .float64: return withUnsafeBytes(of: v.bitPattern.bigEndian, Array.init)
            }
        }
    }

    @Test(arguments: IDXElementType.allCases)
    func everyElementTypeReadsAsItsValue(type: IDXElementType) throws {
        let values: [Double]
        switch type {
        case .uint8: values = [0, 1, 127, 255, 3, 200]
        case .int8: values = [-128, -1, 0, 1, 127, 5]
        case .int16: values = [-32768, -300, 0, 1, 32767, 1000]
        case .int32: values = [-2_147_483_648, -70000, 0, 16_777_216, 2_147_483_647, 123_456]
        case .float32: values = [-1.5, 0, 3.25e-7, 1e30, .pi, 42]
        case .float64: values = [-1.5, 0, 1e-300, 1e38, 0.1, 42]
        }
        let bytes = idxBytes(type: type.rawValue, dims: [2, 1, 3], payload: Self.payload(type, values))
        for data in [bytes, gzip(bytes)] {
            // scale 1: the value as it is, for unsigned bytes too.
            let t = try IDXTensor.parse(data, path: "t.idx", scale: type == .uint8 ? 1 : nil)
            #expect(t.dims == [2, 1, 3])
            #expect(t.elementType == type)
            #expect(t.values == values.map { Float($0) }, "\(type)")
        }
    }

    @Test func unsignedBytesArePixelsByDefault() throws {
        let t = try IDXTensor.parse(idxBytes(type: 0x08, dims: [3], payload: [0, 51, 255]), path: "p")
        #expect(t.values == [0, Float(51) / 255, 1])
    }

    @Test func int32AndFloat64RoundToTheNearestFloat() throws {
        // 2^24 + 1 is not a Float: it rounds to even (2^24); 0.1 rounds to Float(0.1).
        let i = try IDXTensor.parse(idxBytes(type: 0x0C, dims: [1], payload: Self.payload(.int32, [16_777_217])), path: "i")
        #expect(i.values == [16_777_216])
        #expect(!IDXElementType.int32.convertsExactly && !IDXElementType.float64.convertsExactly)
        let d = try IDXTensor.parse(idxBytes(type: 0x0E, dims: [1], payload: Self.payload(.float64, [0.1])), path: "d")
        #expect(d.values == [Float(0.1)])
    }

    @Test func float64BeyondFloatOrNotFiniteIsRefusedByElement() throws {
        let big = idxBytes(type: 0x0E, dims: [2, 2], payload: Self.payload(.float64, [0, 1, 2, 1e300]))
        let e = try #require(dataError { try IDXTensor.parse(big, path: "big.idx") })
        #expect(e.description == "big.idx: image 0: element 3 is 1e+300, beyond the float32 range (±3.4e38); bnc reads only finite values that fit a float32")
        let nan = idxBytes(type: 0x0E, dims: [3], payload: Self.payload(.float64, [0, .nan, 1]))
        #expect(dataError { try IDXTensor.parse(nan, path: "n") }?.description == "n: item 1: element 0 is NaN; bnc reads only finite values that fit a float32")
    }

    @Test func anyRankAndScalarsPerItem() throws {
        let dims: [UInt32] = [2, 1, 2, 1, 2, 1]
        let payload = Self.payload(.int16, (0..<8).map { Double($0 - 4) })
        let t = try IDXTensor.parse(idxBytes(type: 0x0B, dims: dims, payload: payload), path: "6d")
        #expect(t.dims == [2, 1, 2, 1, 2, 1])
        #expect(t.values == (0..<8).map { Float($0 - 4) })
        let oneD = try IDXTensor.parse(idxBytes(type: 0x09, dims: [3], payload: [0xFF, 0, 1]), path: "1d")
        #expect(oneD.dims == [3] && oneD.values == [-1, 0, 1])
        let empty = try IDXTensor.parse(idxBytes(type: 0x0C, dims: [0, 4], payload: []), path: "0")
        #expect(empty.dims == [0, 4] && empty.values.isEmpty)
    }

    @Test func sizesAreCheckedAgainstTheFileBeforeReading() throws {
        // 1000 int32 elements claimed, 8 bytes present: refused from the header alone.
        let short = idxBytes(type: 0x0C, dims: [10, 100], payload: [0, 0, 0, 1, 0, 0, 0, 2])
        let e = try #require(dataError { try IDXTensor.parse(short, path: "s") })
        #expect(e.description == "s: header: file ends at byte 20 but header declares 4000 bytes of data (dims [10, 100] of int32, 4012 bytes with the header)")
        let trailing = idxBytes(type: 0x0B, dims: [1], payload: [0, 1, 9])
        #expect(dataError { try IDXTensor.parse(trailing, path: "t") }?.place == "byte 10")
        // More values than a whole-file load may produce, refused before reading (the limit
        // lowered from 2 GiB to 64 bytes, 16 floats, so the file can be small).
        let seventeen = idxBytes(type: 0x09, dims: [17], payload: [UInt8](repeating: 1, count: 17))
        let h = try #require(dataError { try IDXTensor.load(IDXReader(bytes: seventeen, path: "h"), scale: nil, limit: 64) })
        #expect(h.description == "h: header: dims [17] hold 17 elements; bnc loads at most 16 (64 bytes of float32) from one file")
        let sixteen = idxBytes(type: 0x09, dims: [16], payload: [UInt8](repeating: 1, count: 16))
        #expect(try IDXTensor.load(IDXReader(bytes: sixteen, path: "h"), scale: nil, limit: 64).values.count == 16)
    }

    @Test func streamedBatchesEqualTheWholeTensor() throws {
        let values = (0..<24).map { Double($0) * 1.5 - 7 }
        let bytes = idxBytes(type: 0x0E, dims: [6, 2, 2], payload: Self.payload(.float64, values))
        let whole = try IDXTensor.parse(bytes, path: "w").values
        let reader = try IDXReader(bytes: gzip(bytes), path: "w")
        var streamed: [Float] = []
        var buffer = [Float](repeating: 0, count: 4 * 4)
        while true {
            let n = try buffer.withUnsafeMutableBufferPointer { b throws(DataError) in try reader.readBatch(maxCount: 4, into: b) }
            if n == 0 { break }
            streamed += buffer.prefix(n * 4)
        }
        #expect(streamed == whole)
        #expect(whole == values.map { Float($0) })
    }

    @Test func labelsMustBeUnsignedBytes() throws {
        let reader = try IDXReader(bytes: idxBytes(type: 0x0B, dims: [2], payload: [0, 1, 0, 2]), path: "l")
        var buffer = [UInt8](repeating: 0, count: 2)
        let e = dataError { try buffer.withUnsafeMutableBufferPointer { b throws(DataError) in try reader.readBatch(maxCount: 2, into: b) } }
        #expect(e?.problem == "holds int16 elements where unsigned bytes (type 0x08) are expected")
    }
}
