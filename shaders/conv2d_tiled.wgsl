// Conv2d forward and input gradient as an implicit matrix product with tiles staged in
// workgroup memory: the kernel for adapters that are not CPUs (GPUs natively and in the
// browser, where it needs no subgroups). The launcher is src/kernels/conv/convolve/tiled.rs.
//
// The convolution is conv2d_subgroup.wgsl's (its header gives the formula, forward and
// input gradient alike), read as a matrix product
//
//   t[j, q] = Σ_k g[j, k] · window[k, q]
//
// with j the target channels, q the target pixels (n, oh, ow) of the whole batch, and
// k = i · K² + tap the (source channel, filter tap) pairs; column q of `window` is the
// source under pixel q's filter window (0 in the padding). It is never formed in memory:
// each step loads the part of it that the step needs.
//
// Tiling: a workgroup computes BLOCK_T = 8·GROUP_T target channels × BLOCK_Q = 8·GROUP_Q
// pixels (GROUP_T · GROUP_Q = 64 invocations); each invocation holds 8 channels × 8
// pixels in registers (a RowTile). The k range is walked STEP_K at a time: the workgroup
// copies the filter's BLOCK_T × STEP_K values and the windows' STEP_K × BLOCK_Q values into
// workgroup memory, then each invocation reads 8 + 8 of them per k for 64 multiply-adds.
// Each step's global loads go to registers before the previous step's multiply-adds, so
// that their latency hides behind those.
//
// An invocation's 8 channels are two runs of 4 half a block apart (and so are its
// pixels), so that the invocations of a subgroup read consecutive vec4s of workgroup
// memory.
//
// Numerics: the products add up in `part`, which joins the running sum `acc` every
// `flush` steps (about √(k range) terms each), so that no sequential sum is much longer
// than 2·√(k range): a single running sum over VGG's 4608-term sums was 5× less accurate
// than PyTorch's (tests/kernels/long_sums.rs).

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;         // (N, s_channels, s_h, s_w)
@group(0) @binding(2) var<storage, read> w: array<u32>;           // the weight chunk, f32 or f16
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // (t_channels) when has_bias
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;   // (N, t_channels, t_h, t_w)

// Invocations along the target channels: 4, 8 or 16 (blocks of 32 × 128, 64 × 64 or
// 128 × 32), chosen per layer by the launcher.
override GROUP_T: u32 = 8u;
// The filter size when it is at most 7 (0 otherwise): divisions by K² and K become
// divisions by constants.
override KERNEL: u32 = 0u;

override GROUP_Q: u32 = WORKGROUP_SIZE / GROUP_T;
override BLOCK_T: u32 = 8u * GROUP_T;
override BLOCK_Q: u32 = 8u * GROUP_Q;
// k values per step.
const STEP_K: u32 = 16u;
// The filter block's vec4s per invocation and step, and the windows' (4 pixels each).
override FILTER_LOADS: u32 = STEP_K * BLOCK_T / 4u / WORKGROUP_SIZE;
override WINDOW_LOADS: u32 = STEP_K * BLOCK_Q / 4u / WORKGROUP_SIZE;

// One step's operands: the filter block as [k][channel] and the windows as [k][pixel],
// in vec4s along channels and pixels. A filter row is one vec4 longer than its channels
// need: invocations that store neighbouring k would otherwise all hit one bank.
// Sized for the largest 16 · (BLOCK_T / 4 + 1 + BLOCK_Q / 4) (656).
var<workgroup> tiles: array<vec4<f32>, 672>;
override FILTER_ROW: u32 = BLOCK_T / 4u + 1u;
override WINDOWS_AT: u32 = STEP_K * FILTER_ROW;

// The k range: (source channel, tap) pairs.
fn k_count() -> u32 {
    return p.s_count * taps();
}

fn taps() -> u32 {
    if (KERNEL != 0u) { return KERNEL * KERNEL; }
    return p.kernel * p.kernel;
}

fn kernel_size() -> u32 {
    return select(p.kernel, KERNEL, KERNEL != 0u);
}

// g[j, k] for the dispatch's target channel j, 0 past the ends.
fn filter_value(j: u32, k: u32) -> f32 {
    if (j >= p.t_count || k >= k_count()) { return 0.0; }
    let kk = taps();
    let i = k / kk;
    let tap = k % kk;
    let at = j * p.w_t_stride + i * p.w_s_stride + select(tap, kk - 1u - tap, p.flip != 0u);
    return stored_weight(w[word_of_weight(at)], at);
}

// Where the windows of one target pixel start: its sample's first source plane, and
// the source row and column under the filter's first tap. `inside` is false past the
// last pixel.
struct Pixel { plane: u32, row: i32, column: i32, inside: bool }

fn pixel(q: u32) -> Pixel {
    let area = p.t_h * p.t_w;
    let n = q / area;
    let oh = (q % area) / p.t_w;
    let ow = q % p.t_w;
    let plane = p.s_offset + (n * p.s_channels + p.s0) * p.s_h * p.s_w;
    return Pixel(plane, i32(oh) - p.pad, i32(ow) - p.pad, q < p.batch * area);
}

// window[k, q] for pixel q (as `pixel` gives it), 0 in the padding and past the ends.
fn window_value(at: Pixel, k: u32) -> f32 {
    let kk = taps();
    let kernel = kernel_size();
    let i = k / kk;
    let tap = k % kk;
    let row = at.row + i32(tap / kernel);
    let column = at.column + i32(tap % kernel);
    let inside = at.inside && k < k_count() && row >= 0 && row < i32(p.s_h)
        && column >= 0 && column < i32(p.s_w);
    let index = at.plane + (i * p.s_h + u32(max(row, 0))) * p.s_w + u32(max(column, 0));
    return select(0.0, src[min(index, arrayLength(&src) - 1u)], inside);
}

// This invocation's share of one step's loads: FILTER_LOADS vec4s of 4 channels at one
// k, WINDOW_LOADS vec4s of 4 pixels at one k.
struct Loads { filters: array<vec4<f32>, 8>, windows: array<vec4<f32>, 8> }

// Invocation `lid` loads filter vec4 lid + 64·r (k fastest, so that neighbours read
// neighbouring filter values) and window vec4 lid + 64·r (pixels fastest); its 4 pixels
// are the same in every step.
fn load_step(lid: u32, j0: u32, k0: u32, pixels: array<Pixel, 4>) -> Loads {
    var loads = Loads();
    for (var r = 0u; r < FILTER_LOADS; r++) {
        let e = lid + r * WORKGROUP_SIZE;
        let k = k0 + e % STEP_K;
        let j = j0 + e / STEP_K * 4u;
        loads.filters[r] = vec4<f32>(filter_value(j, k), filter_value(j + 1u, k),
                                    filter_value(j + 2u, k), filter_value(j + 3u, k));
    }
    for (var r = 0u; r < WINDOW_LOADS; r++) {
        let k = k0 + (lid + r * WORKGROUP_SIZE) / (BLOCK_Q / 4u);
        loads.windows[r] = vec4<f32>(window_value(pixels[0], k), window_value(pixels[1], k),
                                     window_value(pixels[2], k), window_value(pixels[3], k));
    }
    return loads;
}

fn store_step(lid: u32, loads: Loads) {
    for (var r = 0u; r < FILTER_LOADS; r++) {
        let e = lid + r * WORKGROUP_SIZE;
        tiles[(e % STEP_K) * FILTER_ROW + e / STEP_K] = loads.filters[r];
    }
    for (var r = 0u; r < WINDOW_LOADS; r++) {
        tiles[WINDOWS_AT + lid + r * WORKGROUP_SIZE] = loads.windows[r];
    }
}

// part + one step's products for the invocation at (tj, tq).
fn multiply_step(part: RowTile, tj: u32, tq: u32) -> RowTile {
    var t = part;
    for (var k = 0u; k < STEP_K; k++) {
        let f = k * FILTER_ROW;
        let v = WINDOWS_AT + k * (BLOCK_Q / 4u);
        t = multiply_add(t, tiles[f + tj], tiles[f + GROUP_T + tj],
                         Window(tiles[v + tq], tiles[v + GROUP_Q + tq]));
    }
    return t;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_tiled(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let pixels_total = p.batch * p.t_h * p.t_w;
    let blocks_t = (p.t_count + BLOCK_T - 1u) / BLOCK_T;
    let blocks = blocks_t * ((pixels_total + BLOCK_Q - 1u) / BLOCK_Q);
    let group = workgroup_index(wid, nwg);
    if (group >= blocks) { return; } // the fold's spare workgroups: the whole group
    let j0 = (group % blocks_t) * BLOCK_T;
    let q0 = (group / blocks_t) * BLOCK_Q;

    // The 4 pixels whose windows this invocation loads.
    let q_load = q0 + (lid % (BLOCK_Q / 4u)) * 4u;
    let pixels = array<Pixel, 4>(pixel(q_load), pixel(q_load + 1u), pixel(q_load + 2u),
                                 pixel(q_load + 3u));

    let tj = lid / GROUP_Q;
    let tq = lid % GROUP_Q;
    let steps = (k_count() + STEP_K - 1u) / STEP_K;
    let flush = max(1u, u32(round(sqrt(f32(k_count())) / f32(STEP_K))));
    var acc = RowTile();
    var part = RowTile();
    var loads = load_step(lid, j0, 0u, pixels);
    for (var step = 0u; step < steps; step++) {
        store_step(lid, loads);
        workgroupBarrier();
        if (step + 1u < steps) {
            loads = load_step(lid, j0, (step + 1u) * STEP_K, pixels);
        }
        part = multiply_step(part, tj, tq);
        if ((step + 1u) % flush == 0u || step + 1u == steps) {
            acc = add_rows(acc, part);
            part = RowTile();
        }
        workgroupBarrier();
    }

    let j = j0 + tj * 4u;
    let q = q0 + tq * 4u;
    for (var c = 0u; c < 4u; c++) {
        store_pixel(j, q + c, acc.ll[c]);
        store_pixel(j + BLOCK_T / 2u, q + c, acc.hl[c]);
        store_pixel(j, q + BLOCK_Q / 2u + c, acc.lh[c]);
        store_pixel(j + BLOCK_T / 2u, q + BLOCK_Q / 2u + c, acc.hh[c]);
    }
}

// dst at pixel q for the 4 channels from j: plus the bias and the optional ReLU, or
// added to what dst holds; skips what lies outside.
fn store_pixel(j: u32, q: u32, sums: vec4<f32>) {
    let area = p.t_h * p.t_w;
    if (q >= p.batch * area) { return; }
    let n = q / area;
    let within = q % area;
    for (var c = 0u; c < 4u; c++) {
        if (j + c >= p.t_count) { return; }
        let channel = p.t0 + j + c;
        let at = p.t_offset + (n * p.t_channels + channel) * area + within;
        var v = sums[c];
        if (p.has_bias != 0u) { v += bias[channel]; }
        if (p.relu != 0u) { v = max(v, 0.0); }
        if (p.accumulate != 0u) { v += dst[at]; }
        dst[at] = v;
    }
}
