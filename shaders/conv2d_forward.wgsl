// Conv2d forward: NCHW, stride 1, square kernel, zero padding, bias, optional ReLU.
//
//   x (N, C, H, W)   w (O, C, K, K)   b (O)   y (N, O, OH, OW),  OH = H + 2·pad − K + 1
//
// The weight may be one chunk of a larger tensor: it then holds output channels
// [o_begin, o_begin + o_count) and this dispatch writes only those channels.
//
// Tiling: one invocation computes 8 output channels × 8 adjacent output columns of one
// output row, 64 accumulators held as four 4×4 matrices. For each input channel c and
// kernel row kh it loads the 8 inputs under the tile once, then slides that window one
// column per kernel column kw (one new load), so each (c, kh, kw) step costs 8 weight
// loads + 1 input load for 64 multiply-adds. Why: on CPU adapters (lavapipe) every
// invocation is one SIMD lane and each storage load is a per-lane scalar loop, so
// multiply-adds per loaded value decide the speed; no workgroup memory or barriers
// (the costliest thing there). Columns and channels past the edge of the output are
// computed on clamped indices and not stored. The accumulators are indexed with
// constants only: indexing a private variable with a runtime value (even in the final
// store loop) keeps it in memory on lavapipe, which made this kernel 3× slower.

struct ConvParams {
    batch: u32, in_channels: u32, in_h: u32, in_w: u32,
    out_channels: u32, out_h: u32, out_w: u32, kernel: u32,
    pad: u32, relu: u32, o_begin: u32, o_count: u32,
    // element offsets of this piece's first sample inside the bound x / y chunks
    x_offset: u32, y_offset: u32, accumulate: u32,
    // used by the weight gradient only (see conv2d_backward_weight.wgsl)
    parts: u32, rows_per_part: u32, db_base: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (N, C, H, W)
@group(0) @binding(2) var<storage, read> w: array<f32>;         // (o_count, C, K, K)
@group(0) @binding(3) var<storage, read> b: array<f32>;         // (O)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;   // (N, O, OH, OW)

const TILE_O: u32 = 8u; // output channels per invocation
const TILE_W: u32 = 8u; // output columns per invocation

// acc += u ⊗ v: column j gets u · v[j] (u: 4 channels, v: 4 columns).
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// x at column `col` of the input row starting at element `row`; 0 in the padding.
fn input_at(row: u32, col: i32) -> f32 {
    let inside = col >= 0 && col < i32(p.in_w);
    return select(0.0, x[row + u32(clamp(col, 0, i32(p.in_w) - 1))], inside);
}

// 64 invocations: a multiple of every adapter's SIMD width, well under the 256 limit.
@compute @workgroup_size(64)
fn conv2d_forward(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let index = (wid.x + wid.y * nwg.x) * 64u + lid;
    let tiles_x = (p.out_w + TILE_W - 1u) / TILE_W;
    let tiles_o = (p.o_count + TILE_O - 1u) / TILE_O;
    if (index >= p.batch * tiles_o * p.out_h * tiles_x) { return; }

    let ox0 = (index % tiles_x) * TILE_W;
    let oh = (index / tiles_x) % p.out_h;
    let o0 = ((index / (tiles_x * p.out_h)) % tiles_o) * TILE_O; // local to the chunk
    let n = index / (tiles_x * p.out_h * tiles_o);

    // Offset of each tile channel's filter in w (channels past o_count repeat the last).
    let kk = p.kernel * p.kernel;
    let filter_len = p.in_channels * kk;
    let last = vec4<u32>(p.o_count - 1u);
    let w_lo = min(vec4<u32>(o0) + vec4<u32>(0u, 1u, 2u, 3u), last) * filter_len;
    let w_hi = min(vec4<u32>(o0) + vec4<u32>(4u, 5u, 6u, 7u), last) * filter_len;

    // acc_<channels><columns>: lo/hi = tile channels 0..3 / 4..7, same for columns.
    var acc_ll = mat4x4<f32>();
    var acc_lh = mat4x4<f32>();
    var acc_hl = mat4x4<f32>();
    var acc_hh = mat4x4<f32>();
    let col0 = i32(ox0) - i32(p.pad); // input column under tile column 0 at kw = 0
    for (var c = 0u; c < p.in_channels; c++) {
        let x_plane = p.x_offset + (n * p.in_channels + c) * p.in_h * p.in_w;
        for (var kh = 0u; kh < p.kernel; kh++) {
            let ih = i32(oh + kh) - i32(p.pad);
            if (ih < 0 || ih >= i32(p.in_h)) { continue; }
            let row = x_plane + u32(ih) * p.in_w;
            // Inputs under tile columns 0..3 and 4..7 for kw = 0.
            var x_lo = vec4<f32>(input_at(row, col0), input_at(row, col0 + 1),
                                 input_at(row, col0 + 2), input_at(row, col0 + 3));
            var x_hi = vec4<f32>(input_at(row, col0 + 4), input_at(row, col0 + 5),
                                 input_at(row, col0 + 6), input_at(row, col0 + 7));
            for (var kw = 0u; kw < p.kernel; kw++) {
                if (kw > 0u) { // slide the window one column right
                    x_lo = vec4<f32>(x_lo.yzw, x_hi.x);
                    x_hi = vec4<f32>(x_hi.yzw, input_at(row, col0 + 7 + i32(kw)));
                }
                let k = c * kk + kh * p.kernel + kw;
                let wv_lo = vec4<f32>(w[w_lo.x + k], w[w_lo.y + k], w[w_lo.z + k], w[w_lo.w + k]);
                let wv_hi = vec4<f32>(w[w_hi.x + k], w[w_hi.y + k], w[w_hi.z + k], w[w_hi.w + k]);
                acc_ll += outer(wv_lo, x_lo);
                acc_lh += outer(wv_lo, x_hi);
                acc_hl += outer(wv_hi, x_lo);
                acc_hh += outer(wv_hi, x_hi);
            }
        }
    }

    store_column(n, o0, oh, ox0, acc_ll[0], acc_hl[0]);
    store_column(n, o0, oh, ox0 + 1u, acc_ll[1], acc_hl[1]);
    store_column(n, o0, oh, ox0 + 2u, acc_ll[2], acc_hl[2]);
    store_column(n, o0, oh, ox0 + 3u, acc_ll[3], acc_hl[3]);
    store_column(n, o0, oh, ox0 + 4u, acc_lh[0], acc_hh[0]);
    store_column(n, o0, oh, ox0 + 5u, acc_lh[1], acc_hh[1]);
    store_column(n, o0, oh, ox0 + 6u, acc_lh[2], acc_hh[2]);
    store_column(n, o0, oh, ox0 + 7u, acc_lh[3], acc_hh[3]);
}

// y at output column `ox` for tile channels 0..3 (`lo`) and 4..7 (`hi`), plus bias and
// the optional ReLU; skips columns and channels outside the output.
fn store_column(n: u32, o0: u32, oh: u32, ox: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (ox >= p.out_w) { return; }
    for (var i = 0u; i < TILE_O; i++) {
        if (o0 + i >= p.o_count) { return; }
        let o = p.o_begin + o0 + i;
        var v = select(hi[i % 4u], lo[i % 4u], i < 4u) + b[o];
        if (p.relu != 0u) { v = max(v, 0.0); }
        y[p.y_offset + ((n * p.out_channels + o) * p.out_h + oh) * p.out_w + ox] = v;
    }
}
