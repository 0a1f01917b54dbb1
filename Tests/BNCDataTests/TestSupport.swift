import CZlib
import Foundation
import Testing

@testable import BNCData

/// IDX bytes built by hand (independently of `IDXFile.encoded`): header then `payload`.
func idxBytes(type: UInt8, dims: [UInt32], payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0, 0, type, UInt8(dims.count)]
    for d in dims { out += [UInt8(d >> 24), UInt8((d >> 16) & 0xff), UInt8((d >> 8) & 0xff), UInt8(d & 0xff)] }
    return out + payload
}

/// Big-endian float32 bytes.
func bigEndianBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in
        let u = v.bitPattern
        return [UInt8(u >> 24), UInt8((u >> 16) & 0xff), UInt8((u >> 8) & 0xff), UInt8(u & 0xff)]
    }
}

/// gzip-compresses `bytes` with zlib (windowBits 15 + 16 writes a gzip wrapper). When
/// `zeroTail` > 0, that many zero bytes are appended to the input by streaming a small zero
/// buffer, so a huge bomb never exists in memory.
func gzip(_ bytes: [UInt8], zeroTail: Int = 0, level: Int32 = 6) -> [UInt8] {
    var z = z_stream()
    let status = deflateInit2_(
        &z, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    precondition(status == Z_OK)
    defer { deflateEnd(&z) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    let zeros = [UInt8](repeating: 0, count: 1 << 20)

    func pump(_ input: [UInt8], count: Int, flush: Int32) {
        input.withUnsafeBufferPointer { src in
            z.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
            z.avail_in = uInt(count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { dst -> Int in
                    z.next_out = dst.baseAddress
                    z.avail_out = uInt(dst.count)
                    let r = deflate(&z, flush)
                    precondition(r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR)
                    return dst.count - Int(z.avail_out)
                }
                out += chunk[0..<produced]
            } while z.avail_out == 0 || (flush == Z_FINISH && z.avail_in > 0)
        }
    }
    pump(bytes, count: bytes.count, flush: Z_NO_FLUSH)
    var left = zeroTail
    while left > 0 {
        let n = min(left, zeros.count)
        pump(zeros, count: n, flush: Z_NO_FLUSH)
        left -= n
    }
    pump([], count: 0, flush: Z_FINISH)
    return out
}

/// The DataError `body` throws, or nil (any other error is recorded as a test failure).
func dataError<T>(_ body: () throws -> T) -> DataError? {
    do {
        _ = try body()
        return nil
    } catch let error as DataError {
        return error
    } catch {
        Issue.record("expected a DataError, got \(error)")
        return nil
    }
}

/// A fresh temporary folder, removed by the caller with `removeItem`.
func makeTemporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("bnc-data-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func write(_ bytes: [UInt8], to url: URL) throws {
    try Data(bytes).write(to: url)
}

/// Deterministic test pixels: 0...255 cycling with a stride so neighbours differ.
func testPixels(_ count: Int, salt: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ salt &* 11 &+ 5) }
}
