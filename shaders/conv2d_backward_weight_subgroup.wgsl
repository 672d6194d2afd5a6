// Conv2d backward, weight and bias gradients, for adapters with subgroups of at least 8
// invocations (conv2d_backward_weight.wgsl otherwise, and for layers with few input
// channels, which would leave most of a workgroup idle here).
//
//   x (N, C, H, W)   dy (N, O, OH, OW)   dw (O, C, K, K)   db (O),  OH = H + 2·pad − K + 1
//
//   dw[o, c, kh, kw] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, c, oh + kh − pad, ow + kw − pad]
//   db[o]            = Σ_{n, oh, ow} dy[n, o, oh, ow]
//
// Same contract as conv2d_backward_weight.wgsl (same ConvParams, in prelude.wgsl): dw may be one chunk of
// output channels [o_begin, o_begin + o_count); the N·OH rows of dy may be split into
// `parts` ranges of `rows_per_part` rows, each writing its partial sums into scratch
// buffers that conv2d_backward_weight_reduce.wgsl adds up in a fixed order.
//
// Tiling: a workgroup owns 16 output channels and one part; each invocation owns
// 16 output channels × 2 input channels × 3 adjacent kernel columns of one kernel row
// (96 accumulators) and steps along the output rows of its part. All invocations of a
// subgroup need the same 16 dy values at each step: invocation l of each group of 8
// loads those of channels l and 8 + l and subgroupBroadcast hands them to the others
// (on lavapipe every storage load is a per-lane scalar loop, so loads bound the speed).
// A step costs 2 dy loads + 2 input loads (the 3 kernel columns see a window of 3 inputs
// that slides by one) for 96 multiply-adds. The bias sums ride along: every invocation
// adds up the 16 dy values, the workgroup's first one stores them.
//
// Subgroup operations need uniform control flow: every invocation runs the whole loop
// (rows outside the input and invocations past the last tile use clamped indices and
// zeros, and the latter store nothing).

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (N, C, H, W)
@group(0) @binding(2) var<storage, read> dy: array<f32>;           // (N, O, OH, OW)
@group(0) @binding(3) var<storage, read_write> dw_out: array<f32>; // (parts, o_count, C, K, K)
@group(0) @binding(4) var<storage, read_write> db_out: array<f32>; // (O) or (parts, o_count)

const TILE_O: u32 = 16u; // output channels per workgroup and invocation
const TILE_C: u32 = 2u;  // input channels per invocation
const TILE_KW: u32 = 3u; // kernel columns per invocation
// Four output columns per loop iteration, written out (for wide images): on lavapipe
// every iteration of a loop with a run-time trip count stores each accumulator through
// the execution mask (see KERNEL in conv2d_subgroup.wgsl). Narrow images lose by
// it: their rows are too short for the longer loop to pay.
override UNROLL_COLUMNS: bool = false;

// Column q of the result: g[q] · v, g[q] holding output channels 4q .. 4q + 3.
fn scaled(g0: vec4<f32>, g1: vec4<f32>, g2: vec4<f32>, g3: vec4<f32>, v: f32) -> mat4x4<f32> {
    return mat4x4<f32>(g0 * v, g1 * v, g2 * v, g3 * v);
}

// x at column `col` of the rows starting at rows.x / rows.y; 0 in the padding.
fn inputs_at(rows: vec2<u32>, inside: bool, col: i32) -> vec2<f32> {
    let ok = inside && col >= 0 && col < i32(p.in_w);
    let at = u32(clamp(col, 0, i32(p.in_w) - 1));
    return select(vec2<f32>(0.0), vec2<f32>(x[rows.x + at], x[rows.y + at]), ok);
}

// One invocation's sums: t<t>_c<j> for kernel column kw0 + t and input channel c0 + j,
// column q of each holding output channels 4q .. 4q + 3; and the 16 bias sums.
struct Sums {
    t0_c0: mat4x4<f32>, t0_c1: mat4x4<f32>,
    t1_c0: mat4x4<f32>, t1_c1: mat4x4<f32>,
    t2_c0: mat4x4<f32>, t2_c1: mat4x4<f32>,
    bias: mat4x4<f32>,
}

// The inputs under kernel columns kw0, kw0 + 1, kw0 + 2 (both input channels).
struct InputColumns { x0: vec2<f32>, x1: vec2<f32>, x2: vec2<f32> }

// The window one output column further right; `col` is its new last input column.
fn slide(v: InputColumns, rows: vec2<u32>, inside: bool, col: i32) -> InputColumns {
    return InputColumns(v.x1, v.x2, inputs_at(rows, inside, col));
}

// acc plus one output column: every invocation loads the dy values of its own two
// channels (at dy_at) and subgroupBroadcast hands each to the others.
fn column(acc: Sums, v: InputColumns, dy_at: vec2<u32>) -> Sums {
    let mine = vec2<f32>(dy[dy_at.x], dy[dy_at.y]);
    let f0 = subgroupBroadcast(mine, 0u);
    let f1 = subgroupBroadcast(mine, 1u);
    let f2 = subgroupBroadcast(mine, 2u);
    let f3 = subgroupBroadcast(mine, 3u);
    let f4 = subgroupBroadcast(mine, 4u);
    let f5 = subgroupBroadcast(mine, 5u);
    let f6 = subgroupBroadcast(mine, 6u);
    let f7 = subgroupBroadcast(mine, 7u);
    let g0 = vec4<f32>(f0.x, f1.x, f2.x, f3.x);
    let g1 = vec4<f32>(f4.x, f5.x, f6.x, f7.x);
    let g2 = vec4<f32>(f0.y, f1.y, f2.y, f3.y);
    let g3 = vec4<f32>(f4.y, f5.y, f6.y, f7.y);
    return Sums(acc.t0_c0 + scaled(g0, g1, g2, g3, v.x0.x), acc.t0_c1 + scaled(g0, g1, g2, g3, v.x0.y),
                acc.t1_c0 + scaled(g0, g1, g2, g3, v.x1.x), acc.t1_c1 + scaled(g0, g1, g2, g3, v.x1.y),
                acc.t2_c0 + scaled(g0, g1, g2, g3, v.x2.x), acc.t2_c1 + scaled(g0, g1, g2, g3, v.x2.y),
                acc.bias + mat4x4<f32>(g0, g1, g2, g3));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_weight_subgroup(@builtin(workgroup_id) wid: vec3<u32>,
                                   @builtin(num_workgroups) nwg: vec3<u32>,
                                   @builtin(local_invocation_index) lid: u32,
                                   @builtin(subgroup_invocation_id) lane: u32) {
    // Workgroups: output-channel blocks fastest, then blocks of WORKGROUP_SIZE tiles, then
    // parts.
    let group = workgroup_index(wid, nwg);
    let kw_blocks = (p.kernel + TILE_KW - 1u) / TILE_KW;
    let tiles_c = (p.in_channels + TILE_C - 1u) / TILE_C;
    let tiles = tiles_c * p.kernel * kw_blocks;
    let tile_groups = (tiles + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
    let blocks_o = (p.o_count + TILE_O - 1u) / TILE_O;
    let o0 = (group % blocks_o) * TILE_O; // local to the dw chunk
    let tile_group = (group / blocks_o) % tile_groups;
    let part = group / (blocks_o * tile_groups);
    let tile_raw = tile_group * WORKGROUP_SIZE + lid;
    let tile = min(tile_raw, tiles - 1u); // past the end: a copy of the last, not stored

    let kw0 = (tile % kw_blocks) * TILE_KW;
    let kh = (tile / kw_blocks) % p.kernel;
    let c0 = (tile / (kw_blocks * p.kernel)) * TILE_C;

    let row_begin = part * p.rows_per_part;
    let row_end = min(row_begin + p.rows_per_part, p.batch * p.out_h);

    // This invocation's share of the dy loads: channels o0 + l and o0 + 8 + l (channels
    // past o_count repeat the last).
    let dy_plane = p.out_h * p.out_w;
    let x_plane = p.in_h * p.in_w;
    let l = lane % 8u;
    let o_last = p.o_count - 1u;
    let dy_a = (p.o_begin + min(o0 + l, o_last)) * dy_plane;
    let dy_b = (p.o_begin + min(o0 + 8u + l, o_last)) * dy_plane;
    let c_last = p.in_channels - 1u;
    let x_a = min(c0, c_last) * x_plane;
    let x_b = min(c0 + 1u, c_last) * x_plane;

    var acc = Sums();
    let col0 = i32(kw0) - i32(p.pad); // input column under output column 0 at kw0
    for (var r = row_begin; r < row_end; r++) {
        let n = r / p.out_h;
        let oh = r % p.out_h;
        let ih = i32(oh + kh) - i32(p.pad);
        let inside = ih >= 0 && ih < i32(p.in_h);
        let x_row = p.x_offset + n * p.in_channels * x_plane + u32(clamp(ih, 0, i32(p.in_h) - 1)) * p.in_w;
        let rows = vec2<u32>(x_row + x_a, x_row + x_b);
        let dy_row = p.y_offset + n * p.out_channels * dy_plane + oh * p.out_w;
        let dy_at = vec2<u32>(dy_row + dy_a, dy_row + dy_b);
        // Inputs under kernel columns kw0, kw0 + 1, kw0 + 2 at output column 0.
        var win = InputColumns(inputs_at(rows, inside, col0), inputs_at(rows, inside, col0 + 1),
                         inputs_at(rows, inside, col0 + 2));
        var ow = 0u;
        for (; UNROLL_COLUMNS && ow + 4u <= p.out_w; ow += 4u) {
            if (ow > 0u) { win = slide(win, rows, inside, col0 + 2 + i32(ow)); }
            acc = column(acc, win, dy_at + vec2<u32>(ow));
            win = slide(win, rows, inside, col0 + 3 + i32(ow));
            acc = column(acc, win, dy_at + vec2<u32>(ow + 1u));
            win = slide(win, rows, inside, col0 + 4 + i32(ow));
            acc = column(acc, win, dy_at + vec2<u32>(ow + 2u));
            win = slide(win, rows, inside, col0 + 5 + i32(ow));
            acc = column(acc, win, dy_at + vec2<u32>(ow + 3u));
        }
        for (; ow < p.out_w; ow++) {
            if (ow > 0u) { win = slide(win, rows, inside, col0 + 2 + i32(ow)); }
            acc = column(acc, win, dy_at + vec2<u32>(ow));
        }
    }

    if (tile_raw >= tiles) { return; }
    store_tap(part, o0, c0, kh, kw0, acc.t0_c0);
    store_tap(part, o0, c0 + 1u, kh, kw0, acc.t0_c1);
    store_tap(part, o0, c0, kh, kw0 + 1u, acc.t1_c0);
    store_tap(part, o0, c0 + 1u, kh, kw0 + 1u, acc.t1_c1);
    store_tap(part, o0, c0, kh, kw0 + 2u, acc.t2_c0);
    store_tap(part, o0, c0 + 1u, kh, kw0 + 2u, acc.t2_c1);
    if (tile_raw == 0u) { store_bias(p.db_base + part * p.o_count, o0, acc.bias); }
}

// dw_out at (c, kh, kw) for the 16 output channels from o0 (column q of m: channels
// o0 + 4q .. o0 + 4q + 3); skips what lies outside dw.
fn store_tap(part: u32, o0: u32, c: u32, kh: u32, kw: u32, m: mat4x4<f32>) {
    if (kw >= p.kernel || c >= p.in_channels) { return; }
    let kk = p.kernel * p.kernel;
    let part_base = part * p.o_count * p.in_channels * kk;
    for (var i = 0u; i < TILE_O; i++) {
        if (o0 + i >= p.o_count) { return; }
        let at = part_base + ((o0 + i) * p.in_channels + c) * kk + kh * p.kernel + kw;
        var v = m[i / 4u][i % 4u];
        if (p.accumulate != 0u) { v += dw_out[at]; }
        dw_out[at] = v;
    }
}

// db_out[base + o0 + i] for the 16 output channels from o0 inside the chunk.
fn store_bias(base: u32, o0: u32, m: mat4x4<f32>) {
    for (var i = 0u; i < TILE_O; i++) {
        if (o0 + i >= p.o_count) { return; }
        let at = base + o0 + i;
        var v = m[i / 4u][i % 4u];
        if (p.accumulate != 0u) { v += db_out[at]; }
        db_out[at] = v;
    }
}
