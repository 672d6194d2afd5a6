// Conv2d forward and input gradient in one kernel, for adapters without usable subgroups
// (conv2d_subgroup.wgsl is the same convolution with filter values shared across each
// subgroup). NCHW, stride 1, square kernel, zero padding.
//
// Both passes are one stride-1 convolution of a source s into a target t (ConvolveParams
// in prelude.wgsl):
//
//   t[n, t0 + j, oh, ow] (+)= Σ_{i, kh, kw} s[n, s0 + i, oh + kh − pad, ow + kw − pad] · g(j, i, kh, kw)
//
//   forward:        s = x (N, C, H, W),  t = y (N, O, OH, OW),  g(j, i, kh, kw) = w[j, i, kh, kw],
//                   pad = pad, plus bias and the optional ReLU; j over the weight chunk's
//                   output channels (t0 = o_begin), i over all C
//   input gradient: s = dy (N, O, OH, OW),  t = dx (N, C, H, W),
//                   g(j, i, kh, kw) = w[i, j, K − 1 − kh, K − 1 − kw], pad = K − 1 − pad;
//                   j over all C, i over the weight chunk's output channels (s0 = o_begin),
//                   adding to dx for every chunk after the first (`accumulate`)
//
// so g(j, i, tap) = w[j · w_t_stride + i · w_s_stride + (flip ? K² − 1 − tap : tap)],
// OH = H + 2·pad − K + 1, and dy is the gradient of the output before any ReLU.
//
// Tiling: one invocation computes 8 target channels × 2 target rows (TILE_H; 1 on
// SwiftShader) × 8 adjacent target columns, 128 accumulators held as 4×4 matrices. For
// each source channel i and kernel row kh it loads the 8 source values under each tile
// row once, then slides those windows one column per kernel column kw (one new load
// each), so each (i, kh, kw) step costs 8 filter loads + 2 source loads for 128
// multiply-adds (a second row cut CPU time by a fifth against one row: the filter values
// are loaded once for both). Why: on CPU adapters (lavapipe) every invocation is one
// SIMD lane and each storage load is a per-lane scalar loop, so multiply-adds per loaded
// value decide the speed; no workgroup memory or barriers (the costliest thing there).
// Columns and channels past the edge of the target are computed on clamped indices and
// not stored. The accumulators are indexed with constants only: indexing a private
// variable with a run-time value (even in the final store loop) keeps it in memory on
// lavapipe, which made this kernel 3× slower.

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;         // (N, s_channels, s_h, s_w)
@group(0) @binding(2) var<storage, read> w: array<u32>;           // the weight chunk (see stored_weight)
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // (t_channels) when has_bias
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;   // (N, t_channels, t_h, t_w)

const TILE_T: u32 = 8u; // target channels per invocation
// Target rows per invocation: 2, or 1 where the pipeline overrides it (SwiftShader: its
// Subzero compiler takes minutes and over 10 GB on 2 rows' 128 accumulators live across
// the loops, and Chromium's GPU process dies; 64 compile in about a second).
override TILE_H: u32 = 2u;
const TILE_W: u32 = 8u; // target columns per invocation

// src at column `col` of the row starting at element `row`; 0 in the padding (columns
// outside the row, or the whole row when `row_inside` is false).
fn source_at(row: u32, row_inside: bool, col: i32) -> f32 {
    let inside = row_inside && col >= 0 && col < i32(p.s_w);
    return select(0.0, src[row + u32(clamp(col, 0, i32(p.s_w) - 1))], inside);
}

// Element `at` of the weight chunk.
fn weight(at: u32) -> f32 { return stored_weight(w[word_of_weight(at)], at); }

// The 8 source values from column `col`.
fn window(row: u32, row_inside: bool, col: i32) -> Window {
    return Window(vec4<f32>(source_at(row, row_inside, col), source_at(row, row_inside, col + 1),
                            source_at(row, row_inside, col + 2), source_at(row, row_inside, col + 3)),
                  vec4<f32>(source_at(row, row_inside, col + 4), source_at(row, row_inside, col + 5),
                            source_at(row, row_inside, col + 6), source_at(row, row_inside, col + 7)));
}

// The window one column further right, `next` entering at the end.
fn slide(v: Window, next: f32) -> Window {
    return Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, next));
}

// Source channels whose taps are summed apart before joining the running sums: fp32
// rounding grows with the length of a sequential sum (as in conv2d_subgroup.wgsl).
const CHANNEL_BLOCK: u32 = 8u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d(@builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let tiles_x = (p.t_w + TILE_W - 1u) / TILE_W;
    let tiles_y = (p.t_h + TILE_H - 1u) / TILE_H;
    let tiles_t = (p.t_count + TILE_T - 1u) / TILE_T;
    if (index >= p.batch * tiles_t * tiles_y * tiles_x) { return; }

    let ox0 = (index % tiles_x) * TILE_W;
    let oh0 = ((index / tiles_x) % tiles_y) * TILE_H;
    let j0 = ((index / (tiles_x * tiles_y)) % tiles_t) * TILE_T; // local to this dispatch
    let n = index / (tiles_x * tiles_y * tiles_t);

    // Offset of each tile channel's filter values in w (channels past t_count repeat the
    // last).
    let last = vec4<u32>(p.t_count - 1u);
    let g_lo = min(vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u), last) * p.w_t_stride;
    let g_hi = min(vec4<u32>(j0) + vec4<u32>(4u, 5u, 6u, 7u), last) * p.w_t_stride;

    var top = RowTile();    // target row oh0
    var bottom = RowTile(); // target row oh0 + 1 (when TILE_H is 2)
    let kk = p.kernel * p.kernel;
    let col0 = i32(ox0) - p.pad; // source column under tile column 0 at kw = 0
    let last_row = i32(p.s_h) - 1;
    // Blocked sums (see CHANNEL_BLOCK): each block of source channels adds up apart.
    for (var i0 = 0u; i0 < p.s_count; i0 += CHANNEL_BLOCK) {
        var top_part = RowTile();
        var bottom_part = RowTile();
        for (var i = i0; i < min(i0 + CHANNEL_BLOCK, p.s_count); i++) {
            let s_plane = p.s_offset + (n * p.s_channels + p.s0 + i) * p.s_h * p.s_w;
            for (var kh = 0u; kh < p.kernel; kh++) {
                let ih = i32(oh0 + kh) - p.pad; // source row under the top row
                let top_inside = ih >= 0 && ih <= last_row;
                let bottom_inside = ih + 1 >= 0 && ih + 1 <= last_row;
                if (!top_inside && (TILE_H == 1u || !bottom_inside)) { continue; }
                let top_row = s_plane + u32(clamp(ih, 0, last_row)) * p.s_w;
                let bottom_row = s_plane + u32(clamp(ih + 1, 0, last_row)) * p.s_w;
                var s_top = window(top_row, top_inside, col0);
                var s_bottom = window(bottom_row, bottom_inside, col0);
                for (var kw = 0u; kw < p.kernel; kw++) {
                    if (kw > 0u) {
                        let col = col0 + 7 + i32(kw);
                        s_top = slide(s_top, source_at(top_row, top_inside, col));
                        s_bottom = slide(s_bottom, source_at(bottom_row, bottom_inside, col));
                    }
                    let tap = kh * p.kernel + kw;
                    let k = i * p.w_s_stride + select(tap, kk - 1u - tap, p.flip != 0u);
                    let gv_lo = vec4<f32>(weight(g_lo.x + k), weight(g_lo.y + k), weight(g_lo.z + k), weight(g_lo.w + k));
                    let gv_hi = vec4<f32>(weight(g_hi.x + k), weight(g_hi.y + k), weight(g_hi.z + k), weight(g_hi.w + k));
                    top_part = multiply_add(top_part, gv_lo, gv_hi, s_top);
                    if (TILE_H == 2u) { bottom_part = multiply_add(bottom_part, gv_lo, gv_hi, s_bottom); }
                }
            }
        }
        top = add_rows(top, top_part);
        bottom = add_rows(bottom, bottom_part);
    }

    store_row(n, j0, oh0, ox0, top);
    if (TILE_H == 2u && oh0 + 1u < p.t_h) { store_row(n, j0, oh0 + 1u, ox0, bottom); }
}

// A row tile of 8 channels from `j0` into dst (constant indices only: see the header).
fn store_row(n: u32, j0: u32, oh: u32, ox0: u32, t: RowTile) {
    store_column(n, j0, oh, ox0, t.ll[0], t.hl[0]);
    store_column(n, j0, oh, ox0 + 1u, t.ll[1], t.hl[1]);
    store_column(n, j0, oh, ox0 + 2u, t.ll[2], t.hl[2]);
    store_column(n, j0, oh, ox0 + 3u, t.ll[3], t.hl[3]);
    store_column(n, j0, oh, ox0 + 4u, t.lh[0], t.hh[0]);
    store_column(n, j0, oh, ox0 + 5u, t.lh[1], t.hh[1]);
    store_column(n, j0, oh, ox0 + 6u, t.lh[2], t.hh[2]);
    store_column(n, j0, oh, ox0 + 7u, t.lh[3], t.hh[3]);
}

// dst at column `ox` for channels j0 .. j0 + 3 (`lo`) and j0 + 4 .. j0 + 7 (`hi`): plus
// the bias and the optional ReLU, or added to what dst holds; skips columns and channels
// outside the target.
fn store_column(n: u32, j0: u32, oh: u32, ox: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (ox >= p.t_w) { return; }
    for (var k = 0u; k < TILE_T; k++) {
        if (j0 + k >= p.t_count) { return; }
        let channel = p.t0 + j0 + k;
        let at = p.t_offset + ((n * p.t_channels + channel) * p.t_h + oh) * p.t_w + ox;
        var v = select(hi[k % 4u], lo[k % 4u], k < 4u);
        if (p.has_bias != 0u) { v += bias[channel]; }
        if (p.relu != 0u) { v = max(v, 0.0); }
        if (p.accumulate != 0u) { v += dst[at]; }
        dst[at] = v;
    }
}
