// Conv2d backward, weight and bias gradients.
//
//   x (N, C, H, W)   dy (N, O, OH, OW)   dw (O, C, K, K)   db (O),  OH = H + 2·pad − K + 1
//
//   dw[o, c, kh, kw] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, c, oh + kh − pad, ow + kw − pad]
//   db[o]            = Σ_{n, oh, ow} dy[n, o, oh, ow]
//
// dy is the gradient of the convolution's output before any ReLU. dw may be one chunk of
// a larger tensor holding output channels [o_begin, o_begin + o_count); x and dy may be
// one row piece of the batch.
//
// The reduction runs over the N·OH rows (n, oh) of dy, split into `parts` ranges of
// `rows_per_part` rows so that big images with few channels still give enough
// invocations. With parts = 1, dw_out / db_out are dw and db themselves and
// `accumulate` adds to them; otherwise they are scratch buffers holding one partial
// sum per part, which conv2d_backward_weight_reduce.wgsl adds up in a fixed order
// (deterministic, no atomics).
//
// Tiling: after the part, the invocations are
//   - weight tiles, each owning 8 output channels × 4 input channels × 3 adjacent kernel
//     columns (kw0 .. kw0 + 2) of one kernel row kh: 96 accumulators. Stepping along an
//     output row it loads the 8 dy values of its channels and one new input per input
//     channel (the 3 kernel columns see a window of 3 inputs that slides by one), so
//     each step costs 12 loads for 96 multiply-adds (on lavapipe every storage load is
//     a per-lane scalar loop: loads per multiply-add decide the speed). Kernel columns
//     past K (K = 1, 5, 7) are computed on zeros and not stored;
//   - then one bias tile per 8 output channels.
// The accumulators are indexed with constants only (see conv2d.wgsl).
//
// Parameters: ConvParams (prelude.wgsl).

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (N, C, H, W)
@group(0) @binding(2) var<storage, read> dy: array<f32>;           // (N, O, OH, OW)
@group(0) @binding(3) var<storage, read_write> dw_out: array<f32>; // (parts, o_count, C, K, K)
@group(0) @binding(4) var<storage, read_write> db_out: array<f32>; // (O) or (parts, o_count)

const TILE_O: u32 = 8u;  // output channels per weight tile
const TILE_C: u32 = 4u;  // input channels per weight tile
const TILE_KW: u32 = 3u; // kernel columns per weight tile

// x at column `col` of row `row` (element offset without the channel) for the 4 tile
// channels whose planes start at `planes`; 0 in the padding.
fn inputs_at(row: u32, planes: vec4<u32>, col: i32) -> vec4<f32> {
    let inside = col >= 0 && col < i32(p.in_w);
    let at = row + u32(clamp(col, 0, i32(p.in_w) - 1));
    let v = vec4<f32>(x[at + planes.x], x[at + planes.y], x[at + planes.z], x[at + planes.w]);
    return select(vec4<f32>(0.0), v, inside);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let kw_blocks = (p.kernel + TILE_KW - 1u) / TILE_KW;
    let tiles_o = (p.o_count + TILE_O - 1u) / TILE_O;
    let tiles_c = (p.in_channels + TILE_C - 1u) / TILE_C;
    let weight_tiles = tiles_o * tiles_c * p.kernel * kw_blocks;
    let tiles = weight_tiles + tiles_o;
    if (index >= tiles * p.parts) { return; }

    let tile = index % tiles;
    let part = index / tiles;
    let row_begin = part * p.rows_per_part;
    let row_end = min(row_begin + p.rows_per_part, p.batch * p.out_h);
    if (tile >= weight_tiles) {
        bias_tile((tile - weight_tiles) * TILE_O, part, row_begin, row_end);
        return;
    }

    let kw0 = (tile % kw_blocks) * TILE_KW;
    let kh = (tile / kw_blocks) % p.kernel;
    let c0 = ((tile / (kw_blocks * p.kernel)) % tiles_c) * TILE_C;
    let o0 = (tile / (kw_blocks * p.kernel * tiles_c)) * TILE_O; // local to the dw chunk

    // Plane offsets of the tile's channels (channels past the end repeat the last).
    let dy_plane = p.out_h * p.out_w;
    let x_plane = p.in_h * p.in_w;
    let o_last = vec4<u32>(p.o_count - 1u);
    let dy_lo = (vec4<u32>(p.o_begin) + min(vec4<u32>(o0) + vec4<u32>(0u, 1u, 2u, 3u), o_last)) * dy_plane;
    let dy_hi = (vec4<u32>(p.o_begin) + min(vec4<u32>(o0) + vec4<u32>(4u, 5u, 6u, 7u), o_last)) * dy_plane;
    let x_planes = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.in_channels - 1u)) * x_plane;

    // acc<t>_<lo|hi>: kernel column kw0 + t, output channels 0..3 / 4..7 of the tile.
    var acc0_lo = mat4x4<f32>();
    var acc0_hi = mat4x4<f32>();
    var acc1_lo = mat4x4<f32>();
    var acc1_hi = mat4x4<f32>();
    var acc2_lo = mat4x4<f32>();
    var acc2_hi = mat4x4<f32>();
    let col0 = i32(kw0) - i32(p.pad); // input column under output column 0 at kw0
    for (var r = row_begin; r < row_end; r++) {
        let n = r / p.out_h;
        let oh = r % p.out_h;
        let ih = i32(oh + kh) - i32(p.pad);
        if (ih < 0 || ih >= i32(p.in_h)) { continue; }
        let x_row = p.x_offset + n * p.in_channels * x_plane + u32(ih) * p.in_w;
        let dy_row = p.y_offset + n * p.out_channels * dy_plane + oh * p.out_w;
        // Inputs under kernel columns kw0, kw0 + 1, kw0 + 2 at output column 0.
        var x0 = inputs_at(x_row, x_planes, col0);
        var x1 = inputs_at(x_row, x_planes, col0 + 1);
        var x2 = inputs_at(x_row, x_planes, col0 + 2);
        for (var ow = 0u; ow < p.out_w; ow++) {
            if (ow > 0u) { // slide the window one column right
                x0 = x1;
                x1 = x2;
                x2 = inputs_at(x_row, x_planes, col0 + 2 + i32(ow));
            }
            let at = dy_row + ow;
            let g_lo = vec4<f32>(dy[at + dy_lo.x], dy[at + dy_lo.y], dy[at + dy_lo.z], dy[at + dy_lo.w]);
            let g_hi = vec4<f32>(dy[at + dy_hi.x], dy[at + dy_hi.y], dy[at + dy_hi.z], dy[at + dy_hi.w]);
            acc0_lo += outer(g_lo, x0);
            acc0_hi += outer(g_hi, x0);
            acc1_lo += outer(g_lo, x1);
            acc1_hi += outer(g_hi, x1);
            acc2_lo += outer(g_lo, x2);
            acc2_hi += outer(g_hi, x2);
        }
    }

    store_tap(part, o0, c0, kh, kw0, acc0_lo, acc0_hi);
    store_tap(part, o0, c0, kh, kw0 + 1u, acc1_lo, acc1_hi);
    store_tap(part, o0, c0, kh, kw0 + 2u, acc2_lo, acc2_hi);
}

// dw_out at kernel position (kh, kw) for the tile's output channels (rows of lo: 0..3,
// of hi: 4..7) × input channels (columns); skips what lies outside dw.
fn store_tap(part: u32, o0: u32, c0: u32, kh: u32, kw: u32, lo: mat4x4<f32>, hi: mat4x4<f32>) {
    if (kw >= p.kernel) { return; }
    let kk = p.kernel * p.kernel;
    let part_base = part * p.o_count * p.in_channels * kk;
    for (var j = 0u; j < TILE_C; j++) {
        if (c0 + j >= p.in_channels) { return; }
        for (var i = 0u; i < TILE_O; i++) {
            if (o0 + i >= p.o_count) { break; }
            let at = part_base + ((o0 + i) * p.in_channels + c0 + j) * kk + kh * p.kernel + kw;
            var v = select(hi[j][i % 4u], lo[j][i % 4u], i < 4u);
            if (p.accumulate != 0u) { v += dw_out[at]; }
            dw_out[at] = v;
        }
    }
}

// db_out for output channels o0 .. o0 + 7 (local to the chunk): the sum of dy over rows
// [row_begin, row_end).
fn bias_tile(o0: u32, part: u32, row_begin: u32, row_end: u32) {
    let dy_plane = p.out_h * p.out_w;
    let o_last = vec4<u32>(p.o_count - 1u);
    let dy_lo = (vec4<u32>(p.o_begin) + min(vec4<u32>(o0) + vec4<u32>(0u, 1u, 2u, 3u), o_last)) * dy_plane;
    let dy_hi = (vec4<u32>(p.o_begin) + min(vec4<u32>(o0) + vec4<u32>(4u, 5u, 6u, 7u), o_last)) * dy_plane;
    var sum_lo = vec4<f32>(0.0);
    var sum_hi = vec4<f32>(0.0);
    for (var r = row_begin; r < row_end; r++) {
        let n = r / p.out_h;
        let dy_row = p.y_offset + n * p.out_channels * dy_plane + (r % p.out_h) * p.out_w;
        for (var ow = 0u; ow < p.out_w; ow++) {
            let at = dy_row + ow;
            sum_lo += vec4<f32>(dy[at + dy_lo.x], dy[at + dy_lo.y], dy[at + dy_lo.z], dy[at + dy_lo.w]);
            sum_hi += vec4<f32>(dy[at + dy_hi.x], dy[at + dy_hi.y], dy[at + dy_hi.z], dy[at + dy_hi.w]);
        }
    }
    store_bias(p.db_base + part * p.o_count, o0, sum_lo, sum_hi);
}

// db_out[base + o0 + i] for the channels 0..3 (`lo`) and 4..7 (`hi`) inside the chunk.
fn store_bias(base: u32, o0: u32, lo: vec4<f32>, hi: vec4<f32>) {
    for (var i = 0u; i < TILE_O; i++) {
        if (o0 + i >= p.o_count) { return; }
        let at = base + o0 + i;
        var v = select(hi[i % 4u], lo[i % 4u], i < 4u);
        if (p.accumulate != 0u) { v += db_out[at]; }
        db_out[at] = v;
    }
}
