// Conv2d forward: NCHW, stride 1, square kernel, zero padding, bias, optional ReLU.
//
//   x (N, C, H, W)   w (O, C, K, K)   b (O)   y (N, O, OH, OW),  OH = H + 2·pad − K + 1
//
// The weight may be one chunk of a larger tensor: it then holds output channels
// [o_begin, o_begin + o_count) and this dispatch writes only those channels.
//
// Tiling: one invocation computes 8 output channels × 2 output rows (TILE_H; 1 on
// SwiftShader) × 8 adjacent output columns, 128 accumulators held as 4×4 matrices. For
// each input channel c and kernel row kh it loads the 8 inputs under each tile row once,
// then slides those windows one column per kernel column kw (one new load each), so each
// (c, kh, kw) step costs 8 weight loads + 2 input loads for 128 multiply-adds (a second
// row cut CPU time by a fifth against one row: the weights are loaded once for both). Why: on CPU adapters (lavapipe) every
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
// Output rows per invocation: 2, or 1 where the pipeline overrides it (SwiftShader: its
// Subzero compiler takes minutes and over 10 GB on 2 rows' 128 accumulators live across
// the loops, and Chromium's GPU process dies; 64 compile in about a second).
override TILE_H: u32 = 2u;
const TILE_W: u32 = 8u; // output columns per invocation

// 8 channels × 8 columns of one output row: <channels><columns>, lo/hi = 0..3 / 4..7.
struct RowTile { ll: mat4x4<f32>, lh: mat4x4<f32>, hl: mat4x4<f32>, hh: mat4x4<f32> }
// 8 consecutive inputs of one input row: columns 0..3 and 4..7.
struct Window { lo: vec4<f32>, hi: vec4<f32> }

// u ⊗ v: column j is u · v[j] (u: 4 channels, v: 4 columns).
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// t + (weights of 8 channels) ⊗ (8 inputs).
fn multiply_add(t: RowTile, w_lo: vec4<f32>, w_hi: vec4<f32>, v: Window) -> RowTile {
    return RowTile(t.ll + outer(w_lo, v.lo), t.lh + outer(w_lo, v.hi),
                   t.hl + outer(w_hi, v.lo), t.hh + outer(w_hi, v.hi));
}

// x at column `col` of the input row starting at element `row`; 0 in the padding
// (columns outside the row, or the whole row when `row_inside` is false).
fn input_at(row: u32, row_inside: bool, col: i32) -> f32 {
    let inside = row_inside && col >= 0 && col < i32(p.in_w);
    return select(0.0, x[row + u32(clamp(col, 0, i32(p.in_w) - 1))], inside);
}

// The 8 inputs from column `col`.
fn window(row: u32, row_inside: bool, col: i32) -> Window {
    return Window(vec4<f32>(input_at(row, row_inside, col), input_at(row, row_inside, col + 1),
                            input_at(row, row_inside, col + 2), input_at(row, row_inside, col + 3)),
                  vec4<f32>(input_at(row, row_inside, col + 4), input_at(row, row_inside, col + 5),
                            input_at(row, row_inside, col + 6), input_at(row, row_inside, col + 7)));
}

// The window one column further right, `next` entering at the end.
fn slide(v: Window, next: f32) -> Window {
    return Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, next));
}

// 64 invocations: a multiple of every adapter's SIMD width, well under the 256 limit.
@compute @workgroup_size(64)
fn conv2d_forward(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let index = (wid.x + wid.y * nwg.x) * 64u + lid;
    let tiles_x = (p.out_w + TILE_W - 1u) / TILE_W;
    let tiles_y = (p.out_h + TILE_H - 1u) / TILE_H;
    let tiles_o = (p.o_count + TILE_O - 1u) / TILE_O;
    if (index >= p.batch * tiles_o * tiles_y * tiles_x) { return; }

    let ox0 = (index % tiles_x) * TILE_W;
    let oh0 = ((index / tiles_x) % tiles_y) * TILE_H;
    let o0 = ((index / (tiles_x * tiles_y)) % tiles_o) * TILE_O; // local to the chunk
    let n = index / (tiles_x * tiles_y * tiles_o);

    // Offset of each tile channel's filter in w (channels past o_count repeat the last).
    let kk = p.kernel * p.kernel;
    let filter_len = p.in_channels * kk;
    let last = vec4<u32>(p.o_count - 1u);
    let w_lo = min(vec4<u32>(o0) + vec4<u32>(0u, 1u, 2u, 3u), last) * filter_len;
    let w_hi = min(vec4<u32>(o0) + vec4<u32>(4u, 5u, 6u, 7u), last) * filter_len;

    var top = RowTile();    // output row oh0
    var bottom = RowTile(); // output row oh0 + 1 (when TILE_H is 2)
    let col0 = i32(ox0) - i32(p.pad); // input column under tile column 0 at kw = 0
    let last_row = i32(p.in_h) - 1;
    for (var c = 0u; c < p.in_channels; c++) {
        let x_plane = p.x_offset + (n * p.in_channels + c) * p.in_h * p.in_w;
        for (var kh = 0u; kh < p.kernel; kh++) {
            let ih = i32(oh0 + kh) - i32(p.pad); // input row under the top row
            let top_inside = ih >= 0 && ih <= last_row;
            let bottom_inside = ih + 1 >= 0 && ih + 1 <= last_row;
            if (!top_inside && (TILE_H == 1u || !bottom_inside)) { continue; }
            let top_row = x_plane + u32(clamp(ih, 0, last_row)) * p.in_w;
            let bottom_row = x_plane + u32(clamp(ih + 1, 0, last_row)) * p.in_w;
            var x_top = window(top_row, top_inside, col0);
            var x_bottom = window(bottom_row, bottom_inside, col0);
            for (var kw = 0u; kw < p.kernel; kw++) {
                if (kw > 0u) {
                    let col = col0 + 7 + i32(kw);
                    x_top = slide(x_top, input_at(top_row, top_inside, col));
                    x_bottom = slide(x_bottom, input_at(bottom_row, bottom_inside, col));
                }
                let k = c * kk + kh * p.kernel + kw;
                let wv_lo = vec4<f32>(w[w_lo.x + k], w[w_lo.y + k], w[w_lo.z + k], w[w_lo.w + k]);
                let wv_hi = vec4<f32>(w[w_hi.x + k], w[w_hi.y + k], w[w_hi.z + k], w[w_hi.w + k]);
                top = multiply_add(top, wv_lo, wv_hi, x_top);
                if (TILE_H == 2u) { bottom = multiply_add(bottom, wv_lo, wv_hi, x_bottom); }
            }
        }
    }

    store_row(n, o0, oh0, ox0, top);
    if (TILE_H == 2u && oh0 + 1u < p.out_h) { store_row(n, o0, oh0 + 1u, ox0, bottom); }
}

// A row tile into y (constant indices only: see the header).
fn store_row(n: u32, o0: u32, oh: u32, ox0: u32, t: RowTile) {
    store_column(n, o0, oh, ox0, t.ll[0], t.hl[0]);
    store_column(n, o0, oh, ox0 + 1u, t.ll[1], t.hl[1]);
    store_column(n, o0, oh, ox0 + 2u, t.ll[2], t.hl[2]);
    store_column(n, o0, oh, ox0 + 3u, t.ll[3], t.hl[3]);
    store_column(n, o0, oh, ox0 + 4u, t.lh[0], t.hh[0]);
    store_column(n, o0, oh, ox0 + 5u, t.lh[1], t.hh[1]);
    store_column(n, o0, oh, ox0 + 6u, t.lh[2], t.hh[2]);
    store_column(n, o0, oh, ox0 + 7u, t.lh[3], t.hh[3]);
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
