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
// computes 8 input channels × 2 rows (TILE_H; 1 on SwiftShader) × 8 adjacent columns of
// dx; for each output channel o and flipped kernel row fh it loads the 8 dy values under
// each tile row once and slides them one column per fw, so each step costs 8 weight
// loads + 2 dy loads for 128 multiply-adds. The accumulators are indexed with constants only (see the forward).

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
// dx rows per invocation: 2, or 1 where the pipeline overrides it (SwiftShader, see
// conv2d_forward.wgsl).
override TILE_H: u32 = 2u;
const TILE_W: u32 = 8u; // input columns per invocation

// 8 channels × 8 columns of one dx row: <channels><columns>, lo/hi = 0..3 / 4..7.
struct RowTile { ll: mat4x4<f32>, lh: mat4x4<f32>, hl: mat4x4<f32>, hh: mat4x4<f32> }
// 8 consecutive values of one dy row: columns 0..3 and 4..7.
struct Window { lo: vec4<f32>, hi: vec4<f32> }

// u ⊗ v: column j is u · v[j] (u: 4 channels, v: 4 columns).
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// t + (weights of 8 channels) ⊗ (8 dy values).
fn multiply_add(t: RowTile, w_lo: vec4<f32>, w_hi: vec4<f32>, v: Window) -> RowTile {
    return RowTile(t.ll + outer(w_lo, v.lo), t.lh + outer(w_lo, v.hi),
                   t.hl + outer(w_hi, v.lo), t.hh + outer(w_hi, v.hi));
}

// dy at column `col` of the dy row starting at element `row`; 0 outside dy (columns
// outside the row, or the whole row when `row_inside` is false).
fn dy_at(row: u32, row_inside: bool, col: i32) -> f32 {
    let inside = row_inside && col >= 0 && col < i32(p.out_w);
    return select(0.0, dy[row + u32(clamp(col, 0, i32(p.out_w) - 1))], inside);
}

// The 8 dy values from column `col`.
fn window(row: u32, row_inside: bool, col: i32) -> Window {
    return Window(vec4<f32>(dy_at(row, row_inside, col), dy_at(row, row_inside, col + 1),
                            dy_at(row, row_inside, col + 2), dy_at(row, row_inside, col + 3)),
                  vec4<f32>(dy_at(row, row_inside, col + 4), dy_at(row, row_inside, col + 5),
                            dy_at(row, row_inside, col + 6), dy_at(row, row_inside, col + 7)));
}

// The window one column further right, `next` entering at the end.
fn slide(v: Window, next: f32) -> Window {
    return Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, next));
}

@compute @workgroup_size(64)
fn conv2d_backward_data(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let index = (wid.x + wid.y * nwg.x) * 64u + lid;
    let tiles_x = (p.in_w + TILE_W - 1u) / TILE_W;
    let tiles_y = (p.in_h + TILE_H - 1u) / TILE_H;
    let tiles_c = (p.in_channels + TILE_C - 1u) / TILE_C;
    if (index >= p.batch * tiles_c * tiles_y * tiles_x) { return; }

    let iw0 = (index % tiles_x) * TILE_W;
    let ih0 = ((index / tiles_x) % tiles_y) * TILE_H;
    let c0 = ((index / (tiles_x * tiles_y)) % tiles_c) * TILE_C;
    let n = index / (tiles_x * tiles_y * tiles_c);

    // Offset of w[0, c, 0, 0] for each tile channel (channels past C repeat the last).
    let kk = p.kernel * p.kernel;
    let last = vec4<u32>(p.in_channels - 1u);
    let w_lo = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), last) * kk;
    let w_hi = min(vec4<u32>(c0) + vec4<u32>(4u, 5u, 6u, 7u), last) * kk;

    var top = RowTile();    // dx row ih0
    var bottom = RowTile(); // dx row ih0 + 1 (when TILE_H is 2)
    let flip_pad = i32(p.kernel) - 1 - i32(p.pad);
    let col0 = i32(iw0) - flip_pad; // dy column under tile column 0 at fw = 0
    let last_row = i32(p.out_h) - 1;
    for (var o = 0u; o < p.o_count; o++) {
        let dy_plane = p.y_offset + (n * p.out_channels + p.o_begin + o) * p.out_h * p.out_w;
        for (var fh = 0u; fh < p.kernel; fh++) {
            let oh = i32(ih0 + fh) - flip_pad; // dy row under the top row
            let top_inside = oh >= 0 && oh <= last_row;
            let bottom_inside = oh + 1 >= 0 && oh + 1 <= last_row;
            if (!top_inside && (TILE_H == 1u || !bottom_inside)) { continue; }
            let top_row = dy_plane + u32(clamp(oh, 0, last_row)) * p.out_w;
            let bottom_row = dy_plane + u32(clamp(oh + 1, 0, last_row)) * p.out_w;
            var g_top = window(top_row, top_inside, col0);
            var g_bottom = window(bottom_row, bottom_inside, col0);
            for (var fw = 0u; fw < p.kernel; fw++) {
                if (fw > 0u) {
                    let col = col0 + 7 + i32(fw);
                    g_top = slide(g_top, dy_at(top_row, top_inside, col));
                    g_bottom = slide(g_bottom, dy_at(bottom_row, bottom_inside, col));
                }
                // w[o, c, kh, kw] with kh = K − 1 − fh, kw = K − 1 − fw
                let k = o * p.in_channels * kk + kk - 1u - fh * p.kernel - fw;
                let wv_lo = vec4<f32>(w[w_lo.x + k], w[w_lo.y + k], w[w_lo.z + k], w[w_lo.w + k]);
                let wv_hi = vec4<f32>(w[w_hi.x + k], w[w_hi.y + k], w[w_hi.z + k], w[w_hi.w + k]);
                top = multiply_add(top, wv_lo, wv_hi, g_top);
                if (TILE_H == 2u) { bottom = multiply_add(bottom, wv_lo, wv_hi, g_bottom); }
            }
        }
    }

    store_row(n, c0, ih0, iw0, top);
    if (TILE_H == 2u && ih0 + 1u < p.in_h) { store_row(n, c0, ih0 + 1u, iw0, bottom); }
}

// A row tile into dx (constant indices only: see the header).
fn store_row(n: u32, c0: u32, ih: u32, iw0: u32, t: RowTile) {
    store_column(n, c0, ih, iw0, t.ll[0], t.hl[0]);
    store_column(n, c0, ih, iw0 + 1u, t.ll[1], t.hl[1]);
    store_column(n, c0, ih, iw0 + 2u, t.ll[2], t.hl[2]);
    store_column(n, c0, ih, iw0 + 3u, t.ll[3], t.hl[3]);
    store_column(n, c0, ih, iw0 + 4u, t.lh[0], t.hh[0]);
    store_column(n, c0, ih, iw0 + 5u, t.lh[1], t.hh[1]);
    store_column(n, c0, ih, iw0 + 6u, t.lh[2], t.hh[2]);
    store_column(n, c0, ih, iw0 + 7u, t.lh[3], t.hh[3]);
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
