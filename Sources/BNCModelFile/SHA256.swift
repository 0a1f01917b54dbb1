import CCrypto

/// SHA-256 through OpenSSL's libcrypto (EVP), used for the model integrity digest.
/// The EVP context is C memory owned by this object and freed in `deinit`; only bytes
/// in and a Swift array out cross the boundary. Tested against the FIPS 180-2 examples.
final class SHA256 {
    private let context: OpaquePointer

    init() {
        guard let ctx = EVP_MD_CTX_new(), EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
            fatalError("bnc: libcrypto could not initialise SHA-256")
        }
        context = ctx
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 32-byte digest; call once.
    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Array(out[..<Int(length)])
    }
}
