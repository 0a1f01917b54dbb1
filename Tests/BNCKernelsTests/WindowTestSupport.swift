/// N-D index helpers for the window kernels' references (convolution, pooling): plain
/// row-major loops, independent of the kernels' 3-D folding.

/// Calls `body` with every multi-index of `sizes`, in row-major order (once for []).
func forEachIndex(_ sizes: [Int], _ body: ([Int]) -> Void) {
    if sizes.contains(where: { $0 <= 0 }) { return }
    var index = [Int](repeating: 0, count: sizes.count)
    while true {
        body(index)
        var d = sizes.count - 1
        while d >= 0 {
            index[d] += 1
            if index[d] < sizes[d] { break }
            index[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}

/// Row-major offset of `index` in an array of shape `sizes`.
func offset(_ index: [Int], in sizes: [Int]) -> Int {
    var o = 0
    for (i, s) in zip(index, sizes) { o = o * s + i }
    return o
}
