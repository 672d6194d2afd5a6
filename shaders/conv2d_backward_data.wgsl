// Conv2d backward, input gradient: the transposed convolution of dy with the weight.
//
//   dy (N, O, OH, OW)   w (O, C, K, K)   dx (N, C, H, W),  OH = H + 2·pad − K + 1
//
//   dx[n, c, ih, iw] = Σ_{o, kh, kw} dy[n, o, ih + pad − kh, iw + pad − kw] · w[o, c, kh, kw]
//
// dy is the gradient of the convolution's output before any ReLU. The weight may be one
// chunk of a larger tensor holding output channels [o_begin, o_begin + o_count): this
// dispatch then sums over those channels only, and adds to dx when `accumulate` is set
// (every chunk after the first).
//
// This is conv2d_forward.wgsl run on dy with the kernel flipped (fh = K − 1 − kh,
// fw = K − 1 − kw) and padding K − 1 − pad, and has the same tiling: one invocation
// computes 8 input channels × 8 adjacent columns of one dx row; for each output channel
// o and flipped kernel row fh it loads the 8 dy values under the tile once and slides
// them one column per fw, so each step costs 8 weight loads + 1 dy load for 64
// multiply-adds. The accumulators are indexed with constants only (see the forward).

struct ConvParams {
    batch: u32, in_channels: u32, in_h: u32, in_w: u32,
    out_channels: u32, out_h: u32, out_w: u32, kernel: u32,
    pad: u32, relu: u32, o_begin: u32, o_count: u32,
    // element offsets of this piece's first sample inside the bound dx / dy chunks
    x_offset: u32, y_offset: u32, accumulate: u32,
    // used by the weight gradient only (see conv2d_backward_weight.wgsl)
    parts: u32, rows_per_part: u32, db_base: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;       // (N, O, OH, OW)
@group(0) @binding(2) var<storage, read> w: array<f32>;        // (o_count, C, K, K)
@group(0) @binding(3) var<storage, read_write> dx: array<f32>; // (N, C, H, W)

const TILE_C: u32 = 8u; // input channels per invocation
const TILE_W: u32 = 8u; // input columns per invocation

// acc += u ⊗ v: column j gets u · v[j] (u: 4 channels, v: 4 columns).
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// dy at column `col` of the dy row starting at element `row`; 0 outside the row.
fn dy_at(row: u32, col: i32) -> f32 {
    let inside = col >= 0 && col < i32(p.out_w);
    return select(0.0, dy[row + u32(clamp(col, 0, i32(p.out_w) - 1))], inside);
}

@compute @workgroup_size(64)
fn conv2d_backward_data(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let index = (wid.x + wid.y * nwg.x) * 64u + lid;
    let tiles_x = (p.in_w + TILE_W - 1u) / TILE_W;
    let tiles_c = (p.in_channels + TILE_C - 1u) / TILE_C;
    if (index >= p.batch * tiles_c * p.in_h * tiles_x) { return; }

    let iw0 = (index % tiles_x) * TILE_W;
    let ih = (index / tiles_x) % p.in_h;
    let c0 = ((index / (tiles_x * p.in_h)) % tiles_c) * TILE_C;
    let n = index / (tiles_x * p.in_h * tiles_c);

    // Offset of w[0, c, 0, 0] for each tile channel (channels past C repeat the last).
    let kk = p.kernel * p.kernel;
    let last = vec4<u32>(p.in_channels - 1u);
    let w_lo = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), last) * kk;
    let w_hi = min(vec4<u32>(c0) + vec4<u32>(4u, 5u, 6u, 7u), last) * kk;

    // acc_<channels><columns>: lo/hi = tile channels 0..3 / 4..7, same for columns.
    var acc_ll = mat4x4<f32>();
    var acc_lh = mat4x4<f32>();
    var acc_hl = mat4x4<f32>();
    var acc_hh = mat4x4<f32>();
    let flip_pad = i32(p.kernel) - 1 - i32(p.pad);
    let col0 = i32(iw0) - flip_pad; // dy column under tile column 0 at fw = 0
    for (var o = 0u; o < p.o_count; o++) {
        let dy_plane = p.y_offset + (n * p.out_channels + p.o_begin + o) * p.out_h * p.out_w;
        for (var fh = 0u; fh < p.kernel; fh++) {
            let oh = i32(ih + fh) - flip_pad;
            if (oh < 0 || oh >= i32(p.out_h)) { continue; }
            let row = dy_plane + u32(oh) * p.out_w;
            // dy under tile columns 0..3 and 4..7 for fw = 0.
            var g_lo = vec4<f32>(dy_at(row, col0), dy_at(row, col0 + 1),
                                 dy_at(row, col0 + 2), dy_at(row, col0 + 3));
            var g_hi = vec4<f32>(dy_at(row, col0 + 4), dy_at(row, col0 + 5),
                                 dy_at(row, col0 + 6), dy_at(row, col0 + 7));
            for (var fw = 0u; fw < p.kernel; fw++) {
                if (fw > 0u) { // slide the window one column right
                    g_lo = vec4<f32>(g_lo.yzw, g_hi.x);
                    g_hi = vec4<f32>(g_hi.yzw, dy_at(row, col0 + 7 + i32(fw)));
                }
                // w[o, c, kh, kw] with kh = K − 1 − fh, kw = K − 1 − fw
                let k = o * p.in_channels * kk + kk - 1u - fh * p.kernel - fw;
                let wv_lo = vec4<f32>(w[w_lo.x + k], w[w_lo.y + k], w[w_lo.z + k], w[w_lo.w + k]);
                let wv_hi = vec4<f32>(w[w_hi.x + k], w[w_hi.y + k], w[w_hi.z + k], w[w_hi.w + k]);
                acc_ll += outer(wv_lo, g_lo);
                acc_lh += outer(wv_lo, g_hi);
                acc_hl += outer(wv_hi, g_lo);
                acc_hh += outer(wv_hi, g_hi);
            }
        }
    }

    store_column(n, c0, ih, iw0, acc_ll[0], acc_hl[0]);
    store_column(n, c0, ih, iw0 + 1u, acc_ll[1], acc_hl[1]);
    store_column(n, c0, ih, iw0 + 2u, acc_ll[2], acc_hl[2]);
    store_column(n, c0, ih, iw0 + 3u, acc_ll[3], acc_hl[3]);
    store_column(n, c0, ih, iw0 + 4u, acc_lh[0], acc_hh[0]);
    store_column(n, c0, ih, iw0 + 5u, acc_lh[1], acc_hh[1]);
    store_column(n, c0, ih, iw0 + 6u, acc_lh[2], acc_hh[2]);
    store_column(n, c0, ih, iw0 + 7u, acc_lh[3], acc_hh[3]);
}

// dx at column `iw` for tile channels 0..3 (`lo`) and 4..7 (`hi`), written or added;
// skips columns and channels outside dx.
fn store_column(n: u32, c0: u32, ih: u32, iw: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (iw >= p.in_w) { return; }
    for (var i = 0u; i < TILE_C; i++) {
        if (c0 + i >= p.in_channels) { return; }
        let at = p.x_offset + ((n * p.in_channels + c0 + i) * p.in_h + ih) * p.in_w + iw;
        var v = select(hi[i % 4u], lo[i % 4u], i < 4u);
        if (p.accumulate != 0u) { v += dx[at]; }
        dx[at] = v;
    }
}
