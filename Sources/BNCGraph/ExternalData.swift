/// Where a tensor's data lies outside the model file: ONNX external data
/// (`TensorProto.external_data` with `data_location` EXTERNAL), the little-endian raw bytes
/// of the tensor at `offset` in the side file `location`, a path relative to the model's
/// folder.
///
/// On a loaded tensor this records where its data came from (its values are in `storage`),
/// so that a re-save stores it outside the model again; a save picks its own side file and
/// offsets (see `ModelFile.save`).
public struct ExternalData: Equatable, Sendable {
    /// The side file, relative to the model's folder ("model.onnx.data").
    public var location: String
    /// Byte offset of the data in the side file.
    public var offset: Int
    /// Length of the data in bytes; nil when the file gave none (the data runs to the end).
    public var length: Int?
    /// The SHA-1 hex digest the file gave (`checksum`), if any.
    public var checksum: String?
    /// Entries other than location, offset, length and checksum, in file order.
    public var otherEntries: [MetadataEntry]

    public init(location: String, offset: Int = 0, length: Int? = nil, checksum: String? = nil, otherEntries: [MetadataEntry] = []) {
        self.location = location
        self.offset = offset
        self.length = length
        self.checksum = checksum
        self.otherEntries = otherEntries
    }
}
