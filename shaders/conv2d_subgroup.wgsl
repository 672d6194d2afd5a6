// Conv2d forward and input gradient in one kernel, for adapters with subgroups of at
// least 8 invocations (the launchers in src/kernels/conv/convolve.rs fall back to conv2d.wgsl, the
// same convolution without subgroup operations, otherwise).
//
// Both passes are the same stride-1 convolution of a source s with a filter g
// (ConvolveParams in prelude.wgsl):
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
// so g(j, i, tap) = w[j · w_t_stride + i · w_s_stride + (flip ? K² − 1 − tap : tap)].
//
// Tiling: one invocation computes TILE_T (16 or 32) target channels × 8 adjacent columns
// of one row, or × 4 columns of 2 rows (override ROWS = 2; for narrow images): 128 or 256
// accumulators (constant indices only: a private variable indexed at run time stays in
// memory on lavapipe, 3× slower). Runs of SHARE invocations (whole subgroups) share the
// same TILE_T target channels, so every invocation of a subgroup needs the same TILE_T
// filter values at each (i, kh, kw): invocation l of each group of 8 loads those of
// channels l, 8 + l (and with TILE_T = 32, 16 + l and 24 + l), and subgroupBroadcast
// hands them to the others. On CPU adapters (lavapipe: one SIMD lane per invocation,
// every storage load a per-lane scalar loop) this turns TILE_T loads per tap into
// TILE_T / 8. Each step along kw costs those filter loads + ROWS source loads (the source
// window slides by one) for 8 · TILE_T multiply-adds. The taps of filters up to 7×7 are
// written out rather than looped over (override KERNEL, set by the launcher).
//
// Subgroup operations need uniform control flow: every invocation runs the whole loop
// (invocations past the last tile compute a clamped copy and store nothing).

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;         // (N, s_channels, s_h, s_w)
@group(0) @binding(2) var<storage, read> w: array<f32>;           // the weight chunk
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // (t_channels) when has_bias
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;   // (N, t_channels, t_h, t_w)

// Target channels per invocation (and per workgroup): 16, or 32 (256 accumulators: each
// source value loaded feeds twice as many multiply-adds, at the cost of spills).
override TILE_T: u32 = 16u;
// Invocations sharing one block of target channels: the workgroup or any power of
// two from 8 that is at least the adapter's largest subgroup (lavapipe: 8), so that
// small images with few tiles still fill the workgroup.
override SHARE: u32 = WORKGROUP_SIZE;
// Tile shape, chosen per layer by the launcher: 1 row × 8 columns, or 2 rows × 4
// columns (images 4 or fewer columns wide would leave half the 8-wide tile idle).
override ROWS: u32 = 1u;
// The filter size when it is at most 7 (0 otherwise): the taps of a filter row are then
// written out, and for 1×1 and 3×3 filters the rows too. On lavapipe a loop with a
// run-time trip count stores every accumulator through the execution mask at each
// iteration, which costs more than the multiply-adds (2.6× on a microbenchmark).
override KERNEL: u32 = 0u;

// Source channels whose taps are summed apart before joining the running sums. fp32
// rounding grows with the length of a sequential sum: one running sum over 512 channels
// × 9 taps (VGG's widest layers) was 5× less accurate than PyTorch's fp32 conv on the
// same inputs (tests/kernels/long_sums.rs); blocks of 8 channels cut the longest chain to
// 72 + s_count / 8 terms. The price is the second set of accumulators that `part` holds:
// 0–10% of this kernel's speed on lavapipe (two measurements, BENCHMARKS.md).
const CHANNEL_BLOCK: u32 = 8u;

// src at column `col` of the row starting at element `row`; 0 in the padding (columns
// outside the row, or the whole row when `row_inside` is false).
fn source_at(row: u32, row_inside: bool, col: i32) -> f32 {
    let inside = row_inside && col >= 0 && col < i32(p.s_w);
    return select(0.0, src[row + u32(clamp(col, 0, i32(p.s_w) - 1))], inside);
}

// The 8 source values of the tile at column `col`: 8 of `row0`, or with ROWS = 2, 4 of
// `row0` and 4 of `row1`.
fn window(row0: u32, in0: bool, row1: u32, in1: bool, col: i32) -> Window {
    if (ROWS == 1u) {
        return Window(vec4<f32>(source_at(row0, in0, col), source_at(row0, in0, col + 1),
                                source_at(row0, in0, col + 2), source_at(row0, in0, col + 3)),
                      vec4<f32>(source_at(row0, in0, col + 4), source_at(row0, in0, col + 5),
                                source_at(row0, in0, col + 6), source_at(row0, in0, col + 7)));
    }
    return Window(vec4<f32>(source_at(row0, in0, col), source_at(row0, in0, col + 1),
                            source_at(row0, in0, col + 2), source_at(row0, in0, col + 3)),
                  vec4<f32>(source_at(row1, in1, col), source_at(row1, in1, col + 1),
                            source_at(row1, in1, col + 2), source_at(row1, in1, col + 3)));
}

// The window one column further right: the source values at column `col` (the new last
// one) enter at the end of each tile row.
fn slide(v: Window, row0: u32, in0: bool, row1: u32, in1: bool, col: i32) -> Window {
    if (ROWS == 1u) {
        return Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, source_at(row0, in0, col)));
    }
    return Window(vec4<f32>(v.lo.yzw, source_at(row0, in0, col)),
                  vec4<f32>(v.hi.yzw, source_at(row1, in1, col)));
}

// The accumulators of one invocation: TILE_T target channels × 8 tile positions.
struct Tile {
    lo: RowTile,  // target channels j0 .. j0 + 7
    hi: RowTile,  // with TILE_T ≥ 16: j0 + 8 .. j0 + 15
    lo2: RowTile, // with TILE_T = 32: j0 + 16 .. j0 + 23
    hi2: RowTile, // and j0 + 24 .. j0 + 31
}

// acc plus the taps (kh, 0 .. kernel) of one source plane: the window of source row
// oh0 + kh − pad (and the next, with ROWS = 2) slides along kw. `g` holds the offsets
// of this invocation's filter values for that plane.
fn taps_of_row(acc: Tile, s_plane: u32, oh0: u32, col0: i32, g: vec4<u32>, kh: u32,
               kernel: u32) -> Tile {
    let last_row = i32(p.s_h) - 1;
    let ih = i32(oh0 + kh) - p.pad; // source row under the tile's first row
    let in0 = ih >= 0 && ih <= last_row;
    let in1 = ih + 1 >= 0 && ih + 1 <= last_row;
    let row0 = s_plane + u32(clamp(ih, 0, last_row)) * p.s_w;
    let row1 = s_plane + u32(clamp(ih + 1, 0, last_row)) * p.s_w;
    let cols = 8u / ROWS;
    var v = window(row0, in0, row1, in1, col0);
    var t = tap(acc, g, kh * kernel, kernel, v);
    if (KERNEL == 0u) {
        for (var kw = 1u; kw < kernel; kw++) {
            v = slide(v, row0, in0, row1, in1, col0 + i32(cols) - 1 + i32(kw));
            t = tap(t, g, kh * kernel + kw, kernel, v);
        }
        return t;
    }
    // Taps 1 .. KERNEL − 1 written out (the conditions are constants).
    if (KERNEL > 1u) { t = slide_and_tap(t, g, kh, 1u, &v, row0, in0, row1, in1, col0); }
    if (KERNEL > 2u) { t = slide_and_tap(t, g, kh, 2u, &v, row0, in0, row1, in1, col0); }
    if (KERNEL > 3u) { t = slide_and_tap(t, g, kh, 3u, &v, row0, in0, row1, in1, col0); }
    if (KERNEL > 4u) { t = slide_and_tap(t, g, kh, 4u, &v, row0, in0, row1, in1, col0); }
    if (KERNEL > 5u) { t = slide_and_tap(t, g, kh, 5u, &v, row0, in0, row1, in1, col0); }
    if (KERNEL > 6u) { t = slide_and_tap(t, g, kh, 6u, &v, row0, in0, row1, in1, col0); }
    return t;
}

// Slides the window *v to kernel column kw (≥ 1) and adds that tap (KERNEL ≤ 7).
fn slide_and_tap(t: Tile, g: vec4<u32>, kh: u32, kw: u32, v: ptr<function, Window>,
                 row0: u32, in0: bool, row1: u32, in1: bool, col0: i32) -> Tile {
    *v = slide(*v, row0, in0, row1, in1, col0 + i32(8u / ROWS) - 1 + i32(kw));
    return tap(t, g, kh * KERNEL + kw, KERNEL, *v);
}

// acc plus one filter tap times the window v: every invocation loads the tap's filter
// values of its own channels (offsets g) and subgroupBroadcast hands each to the others.
fn tap(acc: Tile, g: vec4<u32>, tap: u32, kernel: u32, v: Window) -> Tile {
    let at = select(tap, kernel * kernel - 1u - tap, p.flip != 0u);
    // This invocation's filter values: channels j0 + l, j0 + 8 + l (and with TILE_T =
    // 32 j0 + 16 + l, j0 + 24 + l) in x, y, z, w.
    var mine = vec4<f32>(w[g.x + at], w[g.y + at], 0.0, 0.0);
    if (TILE_T == 32u) { mine = vec4<f32>(mine.xy, w[g.z + at], w[g.w + at]); }
    // Row c of lo / hi: component c of invocations 0..3 / 4..7, i.e. the filter
    // values of 8 consecutive channels.
    let lo = transpose(mat4x4<f32>(subgroupBroadcast(mine, 0u), subgroupBroadcast(mine, 1u),
                                   subgroupBroadcast(mine, 2u), subgroupBroadcast(mine, 3u)));
    let hi = transpose(mat4x4<f32>(subgroupBroadcast(mine, 4u), subgroupBroadcast(mine, 5u),
                                   subgroupBroadcast(mine, 6u), subgroupBroadcast(mine, 7u)));
    var t = acc;
    t.lo = multiply_add(t.lo, lo[0], hi[0], v);
    t.hi = multiply_add(t.hi, lo[1], hi[1], v);
    if (TILE_T == 32u) {
        t.lo2 = multiply_add(t.lo2, lo[2], hi[2], v);
        t.hi2 = multiply_add(t.hi2, lo[3], hi[3], v);
    }
    return t;
}

// acc plus every tap of one source plane (filter offsets g).
fn taps_of_channel(acc: Tile, s_plane: u32, oh0: u32, col0: i32, g: vec4<u32>) -> Tile {
    if (KERNEL == 1u) { return taps_of_row(acc, s_plane, oh0, col0, g, 0u, 1u); }
    if (KERNEL == 3u) {
        let t = taps_of_row(acc, s_plane, oh0, col0, g, 0u, 3u);
        return taps_of_row(taps_of_row(t, s_plane, oh0, col0, g, 1u, 3u),
                           s_plane, oh0, col0, g, 2u, 3u);
    }
    var t = acc;
    for (var kh = 0u; kh < p.kernel; kh++) {
        t = taps_of_row(t, s_plane, oh0, col0, g, kh, p.kernel);
    }
    return t;
}

fn add_tiles(a: Tile, b: Tile) -> Tile {
    var t = Tile(add_rows(a.lo, b.lo), add_rows(a.hi, b.hi), a.lo2, a.hi2);
    if (TILE_T == 32u) {
        t.lo2 = add_rows(a.lo2, b.lo2);
        t.hi2 = add_rows(a.hi2, b.hi2);
    }
    return t;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_subgroup(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32,
                   @builtin(subgroup_invocation_id) lane: u32) {
    // Each run of SHARE invocations (a multiple of the subgroup size) shares one block
    // of target channels and covers SHARE consecutive tiles; such units are numbered
    // with target-channel blocks fastest.
    let group = workgroup_index(wid, nwg);
    let blocks_t = (p.t_count + TILE_T - 1u) / TILE_T;
    let cols = 8u / ROWS; // tile columns
    let tiles_x = (p.t_w + cols - 1u) / cols;
    let tiles_y = (p.t_h + ROWS - 1u) / ROWS;
    let tiles = p.batch * tiles_y * tiles_x;
    let units = blocks_t * ((tiles + SHARE - 1u) / SHARE);
    let unit_raw = group * (WORKGROUP_SIZE / SHARE) + lid / SHARE;
    let unit = min(unit_raw, units - 1u); // past the end: a copy of the last, not stored
    let t_block = unit % blocks_t;
    let tile_raw = (unit / blocks_t) * SHARE + lid % SHARE;
    let tile = min(tile_raw, tiles - 1u); // likewise

    let ox0 = (tile % tiles_x) * cols;
    let oh0 = ((tile / tiles_x) % tiles_y) * ROWS;
    let n = tile / (tiles_x * tiles_y);
    let j0 = t_block * TILE_T; // first target channel, local to this dispatch

    // This invocation's share of the filter: the offsets of target channels j0 + l,
    // j0 + 8 + l, j0 + 16 + l, j0 + 24 + l (channels past t_count repeat the last).
    let l = lane % 8u;
    let last = p.t_count - 1u;
    let g = vec4<u32>(min(j0 + l, last), min(j0 + 8u + l, last),
                      min(j0 + 16u + l, last), min(j0 + 24u + l, last)) * p.w_t_stride;

    // Blocked sums: the taps of each block of CHANNEL_BLOCK source channels add up in
    // `part`, which is then added to `acc` (see CHANNEL_BLOCK).
    var acc = Tile();
    let col0 = i32(ox0) - p.pad; // source column under tile column 0 at kw = 0
    for (var i0 = 0u; i0 < p.s_count; i0 += CHANNEL_BLOCK) {
        var part = Tile();
        for (var i = i0; i < min(i0 + CHANNEL_BLOCK, p.s_count); i++) {
            let s_plane = p.s_offset + (n * p.s_channels + p.s0 + i) * p.s_h * p.s_w;
            part = taps_of_channel(part, s_plane, oh0, col0, g + vec4<u32>(i * p.w_s_stride));
        }
        acc = add_tiles(acc, part);
    }
    if (tile_raw >= tiles || unit_raw >= units) { return; }
    store_row(n, j0, oh0, ox0, acc.lo);
    store_row(n, j0 + 8u, oh0, ox0, acc.hi);
    if (TILE_T == 32u) {
        store_row(n, j0 + 16u, oh0, ox0, acc.lo2);
        store_row(n, j0 + 24u, oh0, ox0, acc.hi2);
    }
}

// A tile of 8 channels from `j` into dst (constant indices only: see the header).
// Tile columns 4..7 are columns 4..7 of row oh, or with ROWS = 2 columns 0..3 of oh + 1.
fn store_row(n: u32, j: u32, oh: u32, ox0: u32, t: RowTile) {
    store_column(n, j, oh, ox0, t.ll[0], t.hl[0]);
    store_column(n, j, oh, ox0 + 1u, t.ll[1], t.hl[1]);
    store_column(n, j, oh, ox0 + 2u, t.ll[2], t.hl[2]);
    store_column(n, j, oh, ox0 + 3u, t.ll[3], t.hl[3]);
    let oh_hi = oh + ROWS - 1u;
    let ox_hi = ox0 + 4u - 4u * (ROWS - 1u);
    if (oh_hi >= p.t_h) { return; }
    store_column(n, j, oh_hi, ox_hi, t.lh[0], t.hh[0]);
    store_column(n, j, oh_hi, ox_hi + 1u, t.lh[1], t.hh[1]);
    store_column(n, j, oh_hi, ox_hi + 2u, t.lh[2], t.hh[2]);
    store_column(n, j, oh_hi, ox_hi + 3u, t.lh[3], t.hh[3]);
}

// dst at column `ox` for channels j .. j + 3 (`lo`) and j + 4 .. j + 7 (`hi`): plus the
// bias and the optional ReLU, or added to what dst holds; skips what lies outside.
fn store_column(n: u32, j: u32, oh: u32, ox: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (ox >= p.t_w) { return; }
    for (var k = 0u; k < 8u; k++) {
        if (j + k >= p.t_count) { return; }
        let channel = p.t0 + j + k;
        let at = p.t_offset + ((n * p.t_channels + channel) * p.t_h + oh) * p.t_w + ox;
        var v = select(hi[k % 4u], lo[k % 4u], k < 4u);
        if (p.has_bias != 0u) { v += bias[channel]; }
        if (p.relu != 0u) { v = max(v, 0.0); }
        if (p.accumulate != 0u) { v += dst[at]; }
        dst[at] = v;
    }
}
