// Conv2d forward and input gradient for SwiftShader: conv2d_subgroup.wgsl's convolution
// with the filter values shared across groups of 4 subgroup lanes (SwiftShader's
// subgroups are 4 wide) and a tile shaped for its Subzero compiler. Any subgroup of at
// least 4 invocations runs it correctly (lavapipe's 8 do in the tests).
//
// The convolution of a source s with a filter g into a target t (ConvolveParams in
// prelude.wgsl), the forward pass and the input gradient alike:
//
//   t[n, t0 + j, oh, ow] (+)= Σ_{i, kh, kw} s[n, s0 + i, oh + kh − pad, ow + kw − pad] · g(j, i, kh, kw)
//
// with g(j, i, tap) = w[j · w_t_stride + i · w_s_stride + (flip ? K² − 1 − tap : tap)]
// (conv2d.wgsl's header spells out both passes).
//
// Tiling: one invocation computes 16 target channels × 8 adjacent columns of one row (128
// accumulators); runs of SHARE invocations (whole subgroups) share the same 16 channels.
// At each tap (i, kh, kw) invocation l of each group of 4 loads the filter values of
// channels l, 4 + l, 8 + l and 12 + l, and subgroupBroadcast hands them to the other
// three; the source window slides one column along kw (one new load). So a tap costs 5
// storage loads for 128 multiply-adds, against 9 for 64 in conv2d.wgsl.
//
// Why (measured on SwiftShader 5.0, natively, 2 cores): every storage load with
// run-time offsets becomes a gather of 4 lanes, each behind its own branch, and Reactor
// spills every live value at each branch, so the cost of a tap grows with loads × live
// values. Hence few loads per tap, and no value live that the tile does not need (the
// 256-accumulator struct of conv2d_subgroup.wgsl, even with half of it unused, made
// the same tile a third slower). The taps stay in loops: written out (as
// conv2d_subgroup.wgsl does for lavapipe) Subzero spent 86 s and 5.7 GB on 64
// accumulators before running out of memory, and in Chromium that kills the GPU
// process; looped, this kernel compiles in under a second. 32 channels or 2 rows
// (256 accumulators) would halve the loads per multiply-add again, but conv2d.wgsl's
// two rows (128 accumulators there) already took minutes to compile.
//
// Subgroup operations need uniform control flow: every invocation runs the whole loop
// (invocations past the last tile compute a clamped copy and store nothing).

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;         // (N, s_channels, s_h, s_w)
@group(0) @binding(2) var<storage, read> w: array<f32>;           // the weight chunk
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // (t_channels) when has_bias
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;   // (N, t_channels, t_h, t_w)

const TILE_T: u32 = 16u; // target channels per invocation
const TILE_W: u32 = 8u;  // target columns per invocation
// Invocations sharing one block of target channels: a power of two from 4 that is at
// least the adapter's largest subgroup (set by the launcher), so that the lanes 0..3
// every broadcast reads hold this run's channels.
override SHARE: u32 = WORKGROUP_SIZE;

// 8 channels × 8 columns: <channels><columns>, lo/hi = 0..3 / 4..7.
struct RowTile { ll: mat4x4<f32>, lh: mat4x4<f32>, hl: mat4x4<f32>, hh: mat4x4<f32> }
// 8 consecutive source values of one row: columns 0..3 and 4..7.
struct Window { lo: vec4<f32>, hi: vec4<f32> }
// The accumulators: target channels j0 .. j0 + 7 and j0 + 8 .. j0 + 15.
struct Tile { lo: RowTile, hi: RowTile }

// Source channels whose taps are summed apart before joining the running sums, as in
// conv2d_subgroup.wgsl (whose CHANNEL_BLOCK says why).
const CHANNEL_BLOCK: u32 = 8u;

fn add_rows(a: RowTile, b: RowTile) -> RowTile {
    return RowTile(a.ll + b.ll, a.lh + b.lh, a.hl + b.hl, a.hh + b.hh);
}

// u ⊗ v: column j is u · v[j] (u: 4 channels, v: 4 columns).
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// t + (filter values of 8 channels) ⊗ (8 source values).
fn multiply_add(t: RowTile, g_lo: vec4<f32>, g_hi: vec4<f32>, v: Window) -> RowTile {
    return RowTile(t.ll + outer(g_lo, v.lo), t.lh + outer(g_lo, v.hi),
                   t.hl + outer(g_hi, v.lo), t.hh + outer(g_hi, v.hi));
}

// src at column `col` of the row starting at element `row`; 0 in the padding (columns
// outside the row, or the whole row when `row_inside` is false).
fn source_at(row: u32, row_inside: bool, col: i32) -> f32 {
    let inside = row_inside && col >= 0 && col < i32(p.s_w);
    return select(0.0, src[row + u32(clamp(col, 0, i32(p.s_w) - 1))], inside);
}

// acc plus one filter tap (offset `at` from this invocation's filter offsets g) times
// the window v.
fn tap(acc: Tile, g: vec4<u32>, at: u32, v: Window) -> Tile {
    // Channels l, 4 + l, 8 + l, 12 + l of this invocation; row c of m is component c
    // of lanes 0..3, i.e. channels 4c .. 4c + 3.
    let mine = vec4<f32>(w[g.x + at], w[g.y + at], w[g.z + at], w[g.w + at]);
    let m = transpose(mat4x4<f32>(subgroupBroadcast(mine, 0u), subgroupBroadcast(mine, 1u),
                                  subgroupBroadcast(mine, 2u), subgroupBroadcast(mine, 3u)));
    return Tile(multiply_add(acc.lo, m[0], m[1], v), multiply_add(acc.hi, m[2], m[3], v));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_subgroup4(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32,
                    @builtin(subgroup_invocation_id) lane: u32) {
    // Each run of SHARE invocations shares one block of target channels and covers
    // SHARE consecutive tiles; such units are numbered with channel blocks fastest.
    let group = workgroup_index(wid, nwg);
    let blocks_t = (p.t_count + TILE_T - 1u) / TILE_T;
    let tiles_x = (p.t_w + TILE_W - 1u) / TILE_W;
    let tiles = p.batch * p.t_h * tiles_x;
    let units = blocks_t * ((tiles + SHARE - 1u) / SHARE);
    let unit_raw = group * (WORKGROUP_SIZE / SHARE) + lid / SHARE;
    let unit = min(unit_raw, units - 1u); // past the end: a copy of the last, not stored
    let tile_raw = (unit / blocks_t) * SHARE + lid % SHARE;
    let tile = min(tile_raw, tiles - 1u); // likewise

    let ox0 = (tile % tiles_x) * TILE_W;
    let oh = (tile / tiles_x) % p.t_h;
    let n = tile / (tiles_x * p.t_h);
    let j0 = (unit % blocks_t) * TILE_T; // first target channel, local to this dispatch

    // Offsets of this invocation's filter values (channels past t_count repeat the last).
    let last = vec4<u32>(p.t_count - 1u);
    let g = min(vec4<u32>(j0 + lane % 4u) + vec4<u32>(0u, 4u, 8u, 12u), last) * p.w_t_stride;

    var acc = Tile();
    let kk = p.kernel * p.kernel;
    let col0 = i32(ox0) - p.pad; // source column under tile column 0 at kw = 0
    let last_row = i32(p.s_h) - 1;
    // Blocked sums (see CHANNEL_BLOCK).
    for (var i0 = 0u; i0 < p.s_count; i0 += CHANNEL_BLOCK) {
        var part = Tile();
        for (var i = i0; i < min(i0 + CHANNEL_BLOCK, p.s_count); i++) {
            let s_plane = p.s_offset + (n * p.s_channels + p.s0 + i) * p.s_h * p.s_w;
            let g_i = i * p.w_s_stride;
            for (var kh = 0u; kh < p.kernel; kh++) {
                let ih = i32(oh + kh) - p.pad;
                let inside = ih >= 0 && ih <= last_row;
                let row = s_plane + u32(clamp(ih, 0, last_row)) * p.s_w;
                var v = Window(vec4<f32>(source_at(row, inside, col0), source_at(row, inside, col0 + 1),
                                         source_at(row, inside, col0 + 2), source_at(row, inside, col0 + 3)),
                               vec4<f32>(source_at(row, inside, col0 + 4), source_at(row, inside, col0 + 5),
                                         source_at(row, inside, col0 + 6), source_at(row, inside, col0 + 7)));
                let tap0 = kh * p.kernel;
                part = tap(part, g, g_i + select(tap0, kk - 1u - tap0, p.flip != 0u), v);
                for (var kw = 1u; kw < p.kernel; kw++) {
                    let next = source_at(row, inside, col0 + 7 + i32(kw));
                    v = Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, next));
                    let t = tap0 + kw;
                    part = tap(part, g, g_i + select(t, kk - 1u - t, p.flip != 0u), v);
                }
            }
        }
        acc = Tile(add_rows(acc.lo, part.lo), add_rows(acc.hi, part.hi));
    }
    if (tile_raw >= tiles || unit_raw >= units) { return; }
    store_row(n, j0, oh, ox0, acc.lo);
    store_row(n, j0 + 8u, oh, ox0, acc.hi);
}

// A tile of 8 channels from `j` into dst (constant indices only: a private variable
// indexed at run time stays in memory).
fn store_row(n: u32, j: u32, oh: u32, ox0: u32, t: RowTile) {
    store_column(n, j, oh, ox0, t.ll[0], t.hl[0]);
    store_column(n, j, oh, ox0 + 1u, t.ll[1], t.hl[1]);
    store_column(n, j, oh, ox0 + 2u, t.ll[2], t.hl[2]);
    store_column(n, j, oh, ox0 + 3u, t.ll[3], t.hl[3]);
    store_column(n, j, oh, ox0 + 4u, t.lh[0], t.hh[0]);
    store_column(n, j, oh, ox0 + 5u, t.lh[1], t.hh[1]);
    store_column(n, j, oh, ox0 + 6u, t.lh[2], t.hh[2]);
    store_column(n, j, oh, ox0 + 7u, t.lh[3], t.hh[3]);
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
