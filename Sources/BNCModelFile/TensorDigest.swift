import BNCGraph

/// The integrity digest bnc stores in `metadata_props` under `bnc.integrity.sha256`.
///
/// A bit flip inside a float still parses as protobuf, so without a digest a damaged
/// weight would go unnoticed. The digest is SHA-256 over the graph's initializers in
/// order, each as: UTF-8 name, a 0 byte, data type (UInt32 LE), rank (UInt32 LE), each
/// dim (Int64 LE), then the elements as little-endian bytes. It does not depend on how
/// the tensor was encoded (raw_data or float_data), so re-saving keeps it valid.
public enum TensorDigest {
    /// Hex SHA-256 of the graph's initializers.
    public static func sha256(of graph: Graph) -> String {
        let hasher = SHA256()
        for t in graph.initializers {
            hasher.update(Array(t.name.utf8) + [0])
            var header: [UInt8] = []
            appendLE(UInt32(bitPattern: t.dataType), to: &header)
            appendLE(UInt32(t.dims.count), to: &header)
            for d in t.dims { appendLE(UInt64(d), to: &header) }
            hasher.update(header)
            switch t.storage {
            case .float(let v):
                #if _endian(little)
                v.withUnsafeBytes { hasher.update($0) }
                #else
                v.map { $0.bitPattern.littleEndian }.withUnsafeBytes { hasher.update($0) }
                #endif
            case .int64(let v):
                v.map { $0.littleEndian }.withUnsafeBytes { hasher.update($0) }
            case .int32(let v):
                v.map { $0.littleEndian }.withUnsafeBytes { hasher.update($0) }
            case .bool(let v):
                hasher.update(v.map { UInt8($0 ? 1 : 0) })
            }
        }
        return hasher.finish().map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }

    /// What a model's stored digest says about its tensors.
    public enum Status: Equatable, Sendable {
        /// No digest stored (files from other tools): nothing to check.
        case absent
        /// The stored digest matches.
        case verified(String)
        /// The stored digest differs from the tensors' digest.
        case mismatch(stored: String, computed: String)
    }

    /// Checks the stored digest against the tensors.
    public static func status(of model: Model) -> Status {
        guard let stored = model[metadata: MetadataKey.integritySHA256] else { return .absent }
        let computed = sha256(of: model.graph)
        return stored == computed ? .verified(stored) : .mismatch(stored: stored, computed: computed)
    }

    /// The model with its digest entry set to its tensors' digest (added or refreshed in place).
    public static func stamped(_ model: Model) -> Model {
        var m = model
        m[metadata: MetadataKey.integritySHA256] = sha256(of: m.graph)
        return m
    }

    private static func appendLE<T: FixedWidthInteger>(_ v: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
    }
}
