/// Protobuf fields that bnc's schema does not declare, kept byte-for-byte so that a file
/// from another tool keeps them when bnc saves it again.
///
/// protobuf-c writes them after the declared fields, so a re-saved file holds the same
/// content but not necessarily the same byte order as the original.
public struct UnknownFields: Equatable, Sendable {
    /// One undeclared field as it appeared on the wire.
    public struct Field: Equatable, Sendable {
        /// Field number.
        public var number: UInt32
        /// Protobuf wire type (0 varint, 1 64-bit, 2 length-delimited, 5 32-bit).
        public var wireType: UInt8
        /// The field's payload bytes, as protobuf-c stores them (without the tag).
        public var bytes: [UInt8]

        public init(number: UInt32, wireType: UInt8, bytes: [UInt8]) {
            self.number = number
            self.wireType = wireType
            self.bytes = bytes
        }
    }

    public var fields: [Field]

    public init(_ fields: [Field] = []) { self.fields = fields }

    public var isEmpty: Bool { fields.isEmpty }

    /// Whether a field with this number is present.
    public func contains(_ number: UInt32) -> Bool { fields.contains { $0.number == number } }
}
