/// An owned, grow-only block of memory for a layer's activations, gradients or scratch.
///
/// Allocated when a network is prepared for a batch size and reused by every step; growing
/// discards the contents. Not shared between networks.
final class Buffer<Element> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int
    private let zero: Element

    init(count: Int, zero: Element) {
        self.zero = zero
        capacity = max(count, 1)
        pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: zero, count: capacity)
    }

    /// Makes room for `count` elements (contents are lost when it grows).
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        pointer.deinitialize(count: capacity)
        pointer.deallocate()
        capacity = count
        pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: zero, count: capacity)
    }

    /// The first `count` elements as an array (for export and tests).
    func array(_ count: Int) -> [Element] {
        precondition(count <= capacity)
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// Copies `values` to the start of the buffer (growing it if needed).
    func assign(_ values: [Element]) {
        reserve(values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit {
        pointer.deinitialize(count: capacity)
        pointer.deallocate()
    }
}

typealias FloatBuffer = Buffer<Float>

extension Buffer where Element == Float {
    convenience init(count: Int) { self.init(count: count, zero: 0) }
}

extension Buffer where Element == Int32 {
    convenience init(count: Int) { self.init(count: count, zero: 0) }
}
