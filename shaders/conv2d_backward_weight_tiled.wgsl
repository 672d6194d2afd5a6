// Conv2d backward, weight and bias gradients as an implicit matrix product with tiles
// staged in workgroup memory: the kernel for adapters that are not CPUs, built as
// conv2d_tiled.wgsl is (its header explains the tiling). The launcher is
// src/kernels/conv/weight_gradient.rs.
//
// conv2d_backward_weight.wgsl's sums (its header gives them, and how the N·OH rows of dy
// split into parts that conv2d_backward_weight_reduce.wgsl adds up in a fixed order),
// read as a matrix product over the pixels (n, oh, ow) of a part:
//
//   d[o, q] = Σ_pixels dy[pixel, o] · window[pixel, q]
//
// with q = c · K² + tap for the weight gradient dw[o, c, tap], and one more column
// q = C · K², whose window is 1 everywhere, for the bias gradient db[o]. A workgroup
// computes BLOCK_O = 8·GROUP_T output channels × BLOCK_Q = 8·GROUP_Q columns of one
// part, STEP_K pixels at a time; each invocation holds 8 × 8 sums in registers.
//
// Numerics as conv2d_tiled.wgsl's: partial sums of about √(pixels of a part) terms.

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (N, C, H, W)
@group(0) @binding(2) var<storage, read> dy: array<f32>;           // (N, O, OH, OW)
@group(0) @binding(3) var<storage, read_write> dw_out: array<f32>; // (parts, o_count, C, K, K)
@group(0) @binding(4) var<storage, read_write> db_out: array<f32>; // (O) or (parts, o_count)

// Invocations along the output channels: 4, 8 or 16, chosen by the launcher.
override GROUP_T: u32 = 8u;
// The filter size when it is at most 7 (0 otherwise), as in conv2d_tiled.wgsl.
override KERNEL: u32 = 0u;

override GROUP_Q: u32 = WORKGROUP_SIZE / GROUP_T;
override BLOCK_O: u32 = 8u * GROUP_T;
override BLOCK_Q: u32 = 8u * GROUP_Q;
// Pixels per step.
const STEP_K: u32 = 16u;
// dy's vec4s (4 output channels at one pixel) per invocation and step, and the
// windows' (4 columns at one pixel).
override DY_LOADS: u32 = STEP_K * BLOCK_O / 4u / WORKGROUP_SIZE;
override WINDOW_LOADS: u32 = STEP_K * BLOCK_Q / 4u / WORKGROUP_SIZE;

// One step's operands: dy as [pixel][channel] and the windows as [pixel][column], in
// vec4s, each row one vec4 longer than it needs (see conv2d_tiled.wgsl). Sized for the
// largest 16 · (BLOCK_O / 4 + 1 + BLOCK_Q / 4 + 1) (672).
var<workgroup> tiles: array<vec4<f32>, 672>;
override DY_ROW: u32 = BLOCK_O / 4u + 1u;
override WINDOW_ROW: u32 = BLOCK_Q / 4u + 1u;
override WINDOWS_AT: u32 = STEP_K * DY_ROW;

fn kernel_size() -> u32 {
    return select(p.kernel, KERNEL, KERNEL != 0u);
}

// Columns of the weight gradient (C · K²); the bias gradient's is the next one.
fn weight_columns() -> u32 {
    let kernel = kernel_size();
    return p.in_channels * kernel * kernel;
}

// Where one pixel of the part sits: its sample, row and column; `inside` is false past
// the part's last pixel.
struct Pixel { n: u32, oh: u32, ow: u32, inside: bool }

fn pixel(at: u32, end: u32) -> Pixel {
    let row = at / p.out_w;
    return Pixel(row / p.out_h, row % p.out_h, at % p.out_w, at < end);
}

// dy at one pixel for the chunk's output channel o, 0 past the ends.
fn dy_value(at: Pixel, o: u32) -> f32 {
    let index = p.y_offset + ((at.n * p.out_channels + p.o_begin + o) * p.out_h + at.oh) * p.out_w
        + at.ow;
    return select(0.0, dy[min(index, arrayLength(&dy) - 1u)], at.inside && o < p.o_count);
}

// window[pixel, q]: x under tap q of the filter, 1 in the bias column, 0 in the padding
// and past the ends.
fn window_value(at: Pixel, q: u32) -> f32 {
    let kernel = kernel_size();
    let kk = kernel * kernel;
    let c = q / kk;
    let tap = q % kk;
    let row = i32(at.oh + tap / kernel) - i32(p.pad);
    let column = i32(at.ow + tap % kernel) - i32(p.pad);
    let inside = at.inside && q < weight_columns() && row >= 0 && row < i32(p.in_h)
        && column >= 0 && column < i32(p.in_w);
    let index = ((at.n * p.in_channels + c) * p.in_h + u32(max(row, 0))) * p.in_w
        + u32(max(column, 0)) + p.x_offset;
    let value = select(0.0, x[min(index, arrayLength(&x) - 1u)], inside);
    return select(value, select(0.0, 1.0, at.inside), q == weight_columns());
}

// This invocation's share of one step's loads; its pixel (lid % STEP_K) is the same in
// both, so that neighbouring invocations read neighbouring pixels.
struct Loads { dy: array<vec4<f32>, 8>, windows: array<vec4<f32>, 8> }

fn load_step(lid: u32, o0: u32, q0: u32, at: Pixel) -> Loads {
    var loads = Loads();
    for (var r = 0u; r < DY_LOADS; r++) {
        let o = o0 + (lid + r * WORKGROUP_SIZE) / STEP_K * 4u;
        loads.dy[r] = vec4<f32>(dy_value(at, o), dy_value(at, o + 1u), dy_value(at, o + 2u),
                                dy_value(at, o + 3u));
    }
    for (var r = 0u; r < WINDOW_LOADS; r++) {
        let q = q0 + (lid + r * WORKGROUP_SIZE) / STEP_K * 4u;
        loads.windows[r] = vec4<f32>(window_value(at, q), window_value(at, q + 1u),
                                     window_value(at, q + 2u), window_value(at, q + 3u));
    }
    return loads;
}

fn store_step(lid: u32, loads: Loads) {
    for (var r = 0u; r < DY_LOADS; r++) {
        let e = lid + r * WORKGROUP_SIZE;
        tiles[(e % STEP_K) * DY_ROW + e / STEP_K] = loads.dy[r];
    }
    for (var r = 0u; r < WINDOW_LOADS; r++) {
        let e = lid + r * WORKGROUP_SIZE;
        tiles[WINDOWS_AT + (e % STEP_K) * WINDOW_ROW + e / STEP_K] = loads.windows[r];
    }
}

// part + one step's products for the invocation at (lane_o, lane_q).
fn multiply_step(part: RowTile, lane_o: u32, lane_q: u32) -> RowTile {
    var t = part;
    for (var k = 0u; k < STEP_K; k++) {
        let d = k * DY_ROW;
        let v = WINDOWS_AT + k * WINDOW_ROW;
        t = multiply_add(t, tiles[d + lane_o], tiles[d + GROUP_T + lane_o],
                         Window(tiles[v + lane_q], tiles[v + GROUP_Q + lane_q]));
    }
    return t;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_weight_tiled(@builtin(workgroup_id) wid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>,
                                @builtin(local_invocation_index) lid: u32) {
    // Workgroups: output-channel blocks fastest, then column blocks, then parts.
    let blocks_o = (p.o_count + BLOCK_O - 1u) / BLOCK_O;
    let blocks_q = (weight_columns() + 1u + BLOCK_Q - 1u) / BLOCK_Q;
    let group = workgroup_index(wid, nwg);
    if (group >= blocks_o * blocks_q * p.parts) { return; } // the fold's spare workgroups
    let o0 = (group % blocks_o) * BLOCK_O;
    let q0 = ((group / blocks_o) % blocks_q) * BLOCK_Q;
    let part = group / (blocks_o * blocks_q);
    let begin = part * p.rows_per_part * p.out_w;
    let end = min((part + 1u) * p.rows_per_part, p.batch * p.out_h) * p.out_w;

    let lane_o = lid / GROUP_Q;
    let lane_q = lid % GROUP_Q;
    let steps = (end - begin + STEP_K - 1u) / STEP_K;
    let flush = max(1u, u32(round(sqrt(f32(end - begin)) / f32(STEP_K))));
    var acc = RowTile();
    var sums = RowTile();
    var loads = load_step(lid, o0, q0, pixel(begin + lid % STEP_K, end));
    for (var step = 0u; step < steps; step++) {
        store_step(lid, loads);
        workgroupBarrier();
        if (step + 1u < steps) {
            let at = pixel(begin + (step + 1u) * STEP_K + lid % STEP_K, end);
            loads = load_step(lid, o0, q0, at);
        }
        sums = multiply_step(sums, lane_o, lane_q);
        if ((step + 1u) % flush == 0u || step + 1u == steps) {
            acc = add_rows(acc, sums);
            sums = RowTile();
        }
        workgroupBarrier();
    }

    let o = o0 + lane_o * 4u;
    let q = q0 + lane_q * 4u;
    for (var c = 0u; c < 4u; c++) {
        store_column(part, o, q + c, acc.ll[c]);
        store_column(part, o + BLOCK_O / 2u, q + c, acc.hl[c]);
        store_column(part, o, q + BLOCK_Q / 2u + c, acc.lh[c]);
        store_column(part, o + BLOCK_O / 2u, q + BLOCK_Q / 2u + c, acc.hh[c]);
    }
}

// Column q of the sums for the chunk's output channels o .. o + 3: into dw_out, or db_out
// for the bias column; added to what they hold with `accumulate`; skips what lies
// outside.
fn store_column(part: u32, o: u32, q: u32, sums: vec4<f32>) {
    let columns = weight_columns();
    if (q > columns) { return; }
    for (var c = 0u; c < 4u; c++) {
        if (o + c >= p.o_count) { return; }
        if (q == columns) {
            let at = p.db_base + part * p.o_count + o + c;
            db_out[at] = select(sums[c], sums[c] + db_out[at], p.accumulate != 0u);
        } else {
            let at = (part * p.o_count + o + c) * columns + q;
            dw_out[at] = select(sums[c], sums[c] + dw_out[at], p.accumulate != 0u);
        }
    }
}
