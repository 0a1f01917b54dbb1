/// Images held as stored (unsigned bytes stay bytes: the 60k Fashion-MNIST set is ≈ 47 MB),
/// converted to Float one batch at a time by `copyBatch`.
///
/// Layout: `(count, height, width)` row-major; one channel.
public struct ImageSet: Equatable, Sendable {
    /// Pixel storage, `(count, height, width)` row-major.
    public enum Storage: Equatable, Sendable {
        /// Unsigned bytes, converted as `x/255` (pixels in [0, 1]).
        case uint8([UInt8])
        /// Float32 values, taken as they are.
        case float32([Float])
    }

    /// Number of images.
    public let count: Int
    public let height: Int
    public let width: Int
    public let storage: Storage

    /// Pixels per image: `height · width`.
    public var pixelsPerImage: Int { height * width }

    /// How a stored pixel becomes a Float: `"x/255"` for bytes, `"x"` for float32.
    public var scaling: String { storage.elementType.scaling }

    /// Images from pixels in memory. Precondition: `pixels` holds `count · height · width`
    /// values, `height` and `width` are positive.
    public init(count: Int, height: Int, width: Int, storage: Storage) {
        precondition(height > 0 && width > 0 && count >= 0, "image set \(count)×\(height)×\(width)")
        precondition(storage.count == count * height * width, "\(storage.count) pixels for \(count)×\(height)×\(width)")
        self.count = count
        self.height = height
        self.width = width
        self.storage = storage
    }

    /// The images of an IDX file with dims `[N, H, W]`, `[N, 1, H, W]` (NCHW, one channel) or
    /// `[H, W]` (one image).
    public init(_ file: IDXFile) throws(DataError) {
        let dims = file.dims
        let (n, h, w): (Int, Int, Int)
        switch dims.count {
        case 3: (n, h, w) = (dims[0], dims[1], dims[2])
        case 2: (n, h, w) = (1, dims[0], dims[1])
        case 4 where dims[1] == 1: (n, h, w) = (dims[0], dims[2], dims[3])
        default:
            throw DataError(
                file: file.path, place: "header",
                problem: "dims \(dims) are not one-channel images: expected [count, height, width], [count, 1, height, width] or [height, width]")
        }
        if h == 0 || w == 0 {
            throw DataError(file: file.path, place: "header", problem: "images of \(h)×\(w) pixels are empty")
        }
        let storage: Storage
        switch file.elements {
        case .uint8(let v): storage = .uint8(v)
        case .float32(let v): storage = .float32(v)
        }
        self.init(count: n, height: h, width: w, storage: storage)
    }

    /// Reads the images of a plain or gzip IDX file (see `IDXFile.read`).
    public init(path: String) throws(DataError) {
        try self.init(IDXFile.read(path: path))
    }

    /// Writes the images at `indices` into `buffer` as Float, one after another:
    /// `(indices.count, height · width)` row-major. Bytes become `x/255`, float32 values are
    /// copied. Preconditions: every index is in `0..<count`; `buffer` holds at least
    /// `indices.count · height · width` floats.
    public func copyBatch(_ indices: some Collection<Int>, into buffer: UnsafeMutableBufferPointer<Float>) {
        let per = pixelsPerImage
        precondition(buffer.count >= indices.count * per, "buffer holds \(buffer.count) floats; \(indices.count) images need \(indices.count * per)")
        guard let out = buffer.baseAddress else { return }
        switch storage {
        case .uint8(let pixels):
            pixels.withUnsafeBufferPointer { src in
                var o = 0
                for i in indices {
                    precondition(i >= 0 && i < count, "image index \(i) outside 0..<\(count)")
                    PixelConversion.convert(
                        UnsafeBufferPointer(rebasing: src[(i * per)..<(i * per + per)]),
                        into: UnsafeMutableBufferPointer(start: out + o, count: per), scale: nil)
                    o += per
                }
            }
        case .float32(let pixels):
            pixels.withUnsafeBufferPointer { src in
                var o = 0
                for i in indices {
                    precondition(i >= 0 && i < count, "image index \(i) outside 0..<\(count)")
                    (out + o).update(from: src.baseAddress! + i * per, count: per)
                    o += per
                }
            }
        }
    }

    /// The images in `range` (copied), in order.
    public func subset(_ range: Range<Int>) -> ImageSet {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) outside 0..<\(count)")
        let per = pixelsPerImage
        let elements = (range.lowerBound * per)..<(range.upperBound * per)
        switch storage {
        case .uint8(let v):
            return ImageSet(count: range.count, height: height, width: width, storage: .uint8(Array(v[elements])))
        case .float32(let v):
            return ImageSet(count: range.count, height: height, width: width, storage: .float32(Array(v[elements])))
        }
    }
}

extension ImageSet.Storage {
    /// Number of stored pixels.
    public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .float32(let v): return v.count
        }
    }

    /// The element type the pixels came from.
    public var elementType: IDXElementType {
        if case .uint8 = self { return .uint8 }
        return .float32
    }
}
