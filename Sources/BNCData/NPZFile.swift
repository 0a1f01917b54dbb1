import CZlib

/// numpy's `.npz` format, written: a zip archive of one `.npy` file per named array
/// (`numpy.load(path)[name]` gives the array back), as `numpy.savez` writes it.
///
/// Members are stored (no compression) with their CRC-32 (zlib's), in the order given,
/// under `<name>.npy` (UTF-8 names flagged as such). Times are the zip epoch
/// (1980-01-01 00:00), so the same arrays always give the same bytes. Plain zip limits
/// apply: fewer than 65,535 members and every member and offset below 4 GiB (no ZIP64);
/// beyond that `encoded` refuses with one line.
public enum NPZFile {
    /// The .npz bytes of `arrays`; `path` names the archive in errors.
    public static func encoded(_ arrays: [(name: String, array: NumericArray)], path: String) throws(DataError) -> [UInt8] {
        guard arrays.count < 0xFFFF else {
            throw DataError(file: path, place: "", problem: "\(arrays.count) arrays are more than a plain zip holds (65,534)")
        }
        var seen = Set<String>()
        for (name, _) in arrays {
            guard !name.isEmpty else { throw DataError(file: path, place: "", problem: "an array has an empty name") }
            guard seen.insert(name).inserted else {
                throw DataError(file: path, place: "array '\(name)'", problem: "two arrays have this name")
            }
        }
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, array) in arrays {
            let member = NPYFile.encoded(array)
            let fileName = Array((name + ".npy").utf8)
            let offset = out.count
            guard member.count < 0xFFFF_FFFF, offset < 0xFFFF_FFFF - member.count - 30 - fileName.count, fileName.count <= 0xFFFF else {
                throw DataError(file: path, place: "array '\(name)'",
                                problem: "\(member.count) bytes at offset \(offset) go beyond the 4 GiB a plain zip holds; write each output as .npy instead")
            }
            let crc = crc32(member)
            let utf8Flag: UInt16 = fileName.contains { $0 >= 0x80 } ? 0x0800 : 0
            // Local file header.
            append32(0x0403_4B50, &out)
            append16(20, &out)  // version needed: 2.0
            append16(utf8Flag, &out)
            append16(0, &out)  // stored
            append16(0, &out)  // time 00:00:00
            append16(0x21, &out)  // date 1980-01-01
            append32(crc, &out)
            append32(UInt32(member.count), &out)
            append32(UInt32(member.count), &out)
            append16(UInt16(fileName.count), &out)
            append16(0, &out)
            out += fileName
            out += member
            // Its central directory entry.
            append32(0x0201_4B50, &central)
            append16(20, &central)  // made by: 2.0
            append16(20, &central)
            append16(utf8Flag, &central)
            append16(0, &central)
            append16(0, &central)
            append16(0x21, &central)
            append32(crc, &central)
            append32(UInt32(member.count), &central)
            append32(UInt32(member.count), &central)
            append16(UInt16(fileName.count), &central)
            append16(0, &central)  // extra
            append16(0, &central)  // comment
            append16(0, &central)  // disk
            append16(0, &central)  // internal attributes
            append32(0, &central)  // external attributes
            append32(UInt32(offset), &central)
            central += fileName
        }
        guard out.count < 0xFFFF_FFFF - central.count - 22 else {
            throw DataError(file: path, place: "", problem: "the archive would be larger than the 4 GiB a plain zip holds; write each output as .npy instead")
        }
        let centralOffset = out.count
        out += central
        // End of central directory.
        append32(0x0605_4B50, &out)
        append16(0, &out)
        append16(0, &out)
        append16(UInt16(arrays.count), &out)
        append16(UInt16(arrays.count), &out)
        append32(UInt32(central.count), &out)
        append32(UInt32(centralOffset), &out)
        append16(0, &out)
        return out
    }

    /// zlib's CRC-32 of `bytes`, fed in pieces below zlib's 32-bit length.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buf in
            var crc = CZlib.crc32(0, nil, 0)
            var at = 0
            while at < buf.count {
                let n = min(buf.count - at, 1 << 30)
                crc = CZlib.crc32(crc, buf.baseAddress! + at, uInt(n))
                at += n
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }

    private static func append16(_ v: UInt16, _ out: inout [UInt8]) {
        out += [UInt8(v & 0xFF), UInt8(v >> 8)]
    }

    private static func append32(_ v: UInt32, _ out: inout [UInt8]) {
        out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
}
