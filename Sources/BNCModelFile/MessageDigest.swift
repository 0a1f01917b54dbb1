import CCrypto

/// SHA-256 and SHA-1 through OpenSSL's libcrypto (EVP): SHA-256 for the model integrity
/// digest, SHA-1 for the `checksum` of ONNX external data. The EVP context is C memory
/// owned by this object and freed in `deinit`; only bytes in and a Swift array out cross
/// the boundary. Tested against the FIPS 180-2 examples.
final class MessageDigest {
    enum Algorithm { case sha256, sha1 }

    private let context: OpaquePointer

    init(_ algorithm: Algorithm) {
        let md = algorithm == .sha256 ? EVP_sha256() : EVP_sha1()
        guard let ctx = EVP_MD_CTX_new(), EVP_DigestInit_ex(ctx, md, nil) == 1 else {
            fatalError("bnc: libcrypto could not initialise \(algorithm)")
        }
        context = ctx
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The digest (32 bytes for SHA-256, 20 for SHA-1); call once.
    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Array(out[..<Int(length)])
    }

    /// `finish()` as lowercase hex.
    func finishHex() -> String {
        let digits = Array("0123456789abcdef")
        return String(finish().flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }
}
