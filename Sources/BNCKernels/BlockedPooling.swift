import CDNNL

/// The 2×2/2 max-pool of `MaxPooling.pool2x2` over the layouts oneDNN's convolutions write
/// with the channels innermost: channel blocks (`nChw8c` on AVX2, `nChw16c` on AVX-512:
/// channels in blocks of 8 or 16, each block's H·W·block floats contiguous) and `nhwc` (one
/// block of all C channels, what brgconv writes). `DNNLConvolution` pools its blocked output
/// with this in place of oneDNN's pooling primitive, which on AVX2 (oneDNN 2.6.3, jit:avx2)
/// was measured 11× slower than this loop (22 µs against 2 µs an image for 32 channels of
/// 28×28: 18 % of the CNN's time) and drops NaN where bnc's pool keeps it.
///
/// The same comparisons in the same order as `MaxPooling.pool2x2`, lane by lane, so both give
/// the same bits, NaN included: m0 = a > b ? a : b, m1 = d > e ? d : e, y = m1 > m0 ? m1 : m0.
enum BlockedPooling {
    /// Where a 2-D tensor with its channels innermost keeps its floats: element (n, c, h, w)
    /// at n·image + (c / lanes)·block + h·row + w·lanes + c % lanes.
    struct Layout: Equatable {
        /// Channels stored together at each position (the block: 8, 16, or C for nhwc).
        let lanes: Int
        /// Channel blocks (the last padded up to `lanes`).
        let blocks: Int
        let image: Int, block: Int, row: Int
        /// nhwc: all channels in one block (`block` stride 0).
        var isNHWC: Bool { block == 0 }
    }

    /// y = the 2×2/2 max-pool of x, both in channel-innermost layouts with the same lanes and
    /// blocks, over `images` images of `outHeight`×`outWidth` outputs; padding channels of
    /// a last block are pooled too (the convolution leaves them zero).
    static func maxPool2x2(
        images: Int, outHeight oH: Int, outWidth oW: Int,
        from s: Layout, _ x: UnsafePointer<Float>, to d: Layout, _ y: UnsafeMutablePointer<Float>
    ) {
        precondition(s.lanes == d.lanes && s.blocks == d.blocks, "BlockedPooling: the layouts' channel blocks differ")
        let lanes = s.lanes
        for n in 0..<images {
            for cb in 0..<s.blocks {
                let xs = x + (n &* s.image &+ cb &* s.block), ys = y + (n &* d.image &+ cb &* d.block)
                for oy in 0..<oH {
                    let r0 = xs + 2 &* oy &* s.row, r1 = r0 + s.row, out = ys + oy &* d.row
                    for ox in 0..<oW {
                        pool4(r0 + 2 &* ox &* lanes, r1 + 2 &* ox &* lanes, lanes, into: out + ox &* lanes)
                    }
                }
            }
        }
    }

    /// y[l] for l < lanes = the max of a[l], a[lanes + l], b[l], b[lanes + l] (a window's two
    /// rows, each two positions of `lanes` channels), in `MaxPooling.pool2x2`'s order. A plain
    /// loop over the lanes: LLVM turns `p > q ? p : q` into maxps (which is exactly that
    /// select), where Swift's generic SIMD `replacing(with:where:)` went lane by lane through
    /// the stack (measured: the pool took 57 % of the CNN's time that way).
    @inline(__always)
    private static func pool4(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ lanes: Int, into y: UnsafeMutablePointer<Float>) {
        let a1 = a + lanes, b1 = b + lanes
        for l in 0..<lanes {
            let m0 = a[l] > a1[l] ? a[l] : a1[l]
            let m1 = b[l] > b1[l] ? b[l] : b1[l]
            y[l] = m1 > m0 ? m1 : m0
        }
    }
}

extension BlockedPooling.Layout {
    /// The layout of `desc` when it is f32 (N, C, H, W) in one inner block of 8 or 16
    /// channels (nChw8c, nChw16c) or nhwc, no offsets; nil for any other (plain NCHW,
    /// two-level blocks, a sub-tensor).
    init?(_ desc: dnnl_memory_desc_t) {
        var d = desc
        guard d.ndims == 4, d.data_type == dnnl_f32, d.format_kind == dnnl_blocked, d.offset0 == 0 else { return nil }
        let offsets = withUnsafeBytes(of: &d.padded_offsets) { Array($0.bindMemory(to: Int64.self).prefix(4)) }
        guard offsets.allSatisfy({ $0 == 0 }) else { return nil }
        let b = d.format_desc.blocking
        let s = [b.strides.0, b.strides.1, b.strides.2, b.strides.3].map(Int.init)
        let c = Int(d.padded_dims.1), h = Int(d.padded_dims.2), w = Int(d.padded_dims.3)
        if b.inner_nblks == 1 {
            let lanes = Int(b.inner_blks.0)
            guard b.inner_idxs.0 == 1, lanes == 8 || lanes == 16, c % lanes == 0, s[3] == lanes, s[2] == w * lanes,
                  s[1] >= h * w * lanes, s[0] >= c / lanes * s[1] else { return nil }
            self.init(lanes: lanes, blocks: c / lanes, image: s[0], block: s[1], row: s[2])
        } else if b.inner_nblks == 0 {
            guard s[1] == 1, s[3] == c, s[2] == w * c, s[0] >= h * w * c else { return nil }
            self.init(lanes: c, blocks: 1, image: s[0], block: 0, row: s[2])
        } else {
            return nil
        }
    }
}
