// Conv2d forward and input gradient on SwiftShader (what a browser without a GPU runs,
// and SwiftShader's Vulkan driver natively), without subgroups: conv2d.wgsl's one-row tile
// of 8 target channels × 8 columns, with the invocations laid out for SwiftShader's
// 4-lane SIMD groups and every storage load an atomic load from buffers laid out for it
// by conv2d_lanes_prepare.wgsl.
//
// The convolution of a source s with a filter g into a target t (ConvolveParams in
// prelude.wgsl), the forward pass and the input gradient alike:
//
//   t[n, t0 + j, oh, ow] (+)= Σ_{i, kh, kw} s[n, s0 + i, oh + kh − pad, ow + kw − pad] · g(j, i, kh, kw)
//
// (conv2d.wgsl's header spells out both passes and g). This kernel reads neither s nor
// the weight itself but two copies the prepare kernels write before it:
//
//   padded:  s with its zero padding written out, (N, s_count, PH, PW) with
//            PH = t_h + K − 1 and PW = lanes_padded_width(p) (prelude.wgsl), so that
//            padded[n, i, r, c] = s[n, s0 + i, r − pad, c − pad] (0 outside s);
//   filters: g for blocks of BW = min(32, t_count rounded up to 4) target channels,
//            (⌈t_count / 32⌉, s_count, K², BW), flip applied, channels past t_count 0,
//            then 32 more values (a narrow block's lanes read past it: values of
//            channels they do not store).
//
// Tiling: 4 consecutive invocations (a "quad": lanes 0..3) share one batch sample, one
// target row and 8 adjacent columns, and one block of 32 target channels; lane l
// computes channels l, l + 4, …, l + 28 of the block at those 8 columns (64
// accumulators). For each source channel i and kernel row kh a lane loads the 8 values
// under the tile, then slides that window one column per kw (one new load each); each tap
// (i, kh, kw) loads the lane's 8 filter values, 4 apart.
//
// Why (measured with SwiftShader's JIT: BENCHMARKS.md, "SwiftShader: vec4 loads and lane
// layouts"): SwiftShader runs 4 consecutive invocations as the 4 lanes of one SIMD
// group, and turns a plain storage load at a run-time offset into a 4-lane gather, each
// lane behind its own branch (a vec4 is 4 such gathers). Its atomic loads instead check
// at run time whether the 4 lanes' offsets are equal (one scalar load, broadcast) or
// sequential (one vector load). With this layout every source load is equal across the 4
// lanes (they share n, row and columns) and every filter load sequential (the block's
// channels are interleaved: lane l's k-th channel sits at l + 4k), so every load takes
// a fast path: about 1.4× conv2d.wgsl per layer on a calm machine, forward and input
// gradient (more on a loaded one; BENCHMARKS.md, "SwiftShader: conv2d_lanes.wgsl").
// Atomics need read_write bindings, hence the copies (which also drop conv2d.wgsl's
// padding selects). The arrays stay runtime-sized although naga's bounds clamp then
// costs 4 idivs per load on SwiftShader (arrayLength): fixed-size arrays measured only
// 2–10 % faster and would need every binding at least the declared size. Correctness
// depends on nothing of this: any grouping of invocations (lavapipe's, a GPU's) gives
// the same results; the speed was measured on SwiftShader only. The launcher runs
// conv2d.wgsl instead where a copy would not fit the binding limit or the layout would
// waste work (ConvolveParams::launch_lanes).
//
// The tile stays at 64 accumulators (plus 64 partial sums) with the taps in loops:
// larger or unrolled kernels take SwiftShader's Subzero compiler minutes and gigabytes,
// and in Chromium a slow compile kills the GPU process. Each block of CHANNEL_BLOCK
// source channels is summed apart, then added to the running sums (fp32 rounding grows
// with the length of a sequential sum).

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read_write> padded: array<atomic<u32>>;  // see the header
@group(0) @binding(2) var<storage, read_write> filters: array<atomic<u32>>; // see the header
@group(0) @binding(3) var<storage, read> bias: array<f32>;                  // (t_channels) when has_bias
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;             // (N, t_channels, t_h, t_w)

const LANES: u32 = 4u;        // invocations per quad (SwiftShader's SIMD width)
const BLOCK_T: u32 = 32u;     // target channels per quad: 8 per lane, LANES apart
const TILE_W: u32 = 8u;       // target columns per quad
const CHANNEL_BLOCK: u32 = 8u; // source channels summed apart

fn source_value(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&padded[at])); }
fn filter_value(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&filters[at])); }

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_lanes(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let flat = flat_index(wid, nwg, lid);
    let lane = flat % LANES;
    let quad = flat / LANES;
    let tiles_x = (p.t_w + TILE_W - 1u) / TILE_W;
    let blocks_t = (p.t_count + BLOCK_T - 1u) / BLOCK_T;
    if (quad >= p.batch * blocks_t * p.t_h * tiles_x) { return; }

    let tx = quad % tiles_x;
    let oh = (quad / tiles_x) % p.t_h;
    let jb = (quad / (tiles_x * p.t_h)) % blocks_t;
    let n = quad / (tiles_x * p.t_h * blocks_t);

    let kk = p.kernel * p.kernel;
    let row = lanes_padded_width(p);
    let plane = (p.t_h + p.kernel - 1u) * row;
    // padded row oh + kh under tile column 0, at kh = 0, channel 0; the lane's first
    // filter value at tap 0, channel 0.
    let s_base = n * p.s_count * plane + oh * row + tx * TILE_W;
    let width = min(BLOCK_T, (p.t_count + 3u) / 4u * 4u); // BW (a narrow block: the only one)
    let g_base = jb * p.s_count * kk * width + lane;

    var acc = RowTile();
    for (var i0 = 0u; i0 < p.s_count; i0 += CHANNEL_BLOCK) {
        var part = RowTile();
        for (var i = i0; i < min(i0 + CHANNEL_BLOCK, p.s_count); i++) {
            for (var kh = 0u; kh < p.kernel; kh++) {
                let at = s_base + i * plane + kh * row;
                var v = Window(vec4<f32>(source_value(at), source_value(at + 1u), source_value(at + 2u), source_value(at + 3u)),
                               vec4<f32>(source_value(at + 4u), source_value(at + 5u), source_value(at + 6u), source_value(at + 7u)));
                let g_row = g_base + (i * kk + kh * p.kernel) * width;
                for (var kw = 0u; kw < p.kernel; kw++) {
                    if (kw > 0u) {
                        v = Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, source_value(at + 7u + kw)));
                    }
                    let g = g_row + kw * width;
                    part = multiply_add(part,
                        vec4<f32>(filter_value(g), filter_value(g + 4u), filter_value(g + 8u), filter_value(g + 12u)),
                        vec4<f32>(filter_value(g + 16u), filter_value(g + 20u), filter_value(g + 24u), filter_value(g + 28u)), v);
                }
            }
        }
        acc = add_rows(acc, part);
    }

    let ox0 = tx * TILE_W;
    let j0 = jb * BLOCK_T + lane;
    store_column(n, j0, oh, ox0, acc.ll[0], acc.hl[0]);
    store_column(n, j0, oh, ox0 + 1u, acc.ll[1], acc.hl[1]);
    store_column(n, j0, oh, ox0 + 2u, acc.ll[2], acc.hl[2]);
    store_column(n, j0, oh, ox0 + 3u, acc.ll[3], acc.hl[3]);
    store_column(n, j0, oh, ox0 + 4u, acc.lh[0], acc.hh[0]);
    store_column(n, j0, oh, ox0 + 5u, acc.lh[1], acc.hh[1]);
    store_column(n, j0, oh, ox0 + 6u, acc.lh[2], acc.hh[2]);
    store_column(n, j0, oh, ox0 + 7u, acc.lh[3], acc.hh[3]);
}

// dst at column `ox` for the lane's channels j0 + LANES · k, k = 0..3 (`lo`) and 4..7
// (`hi`): plus the bias and the optional ReLU, or added to what dst holds; skips columns
// and channels outside the target (as in conv2d.wgsl).
fn store_column(n: u32, j0: u32, oh: u32, ox: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (ox >= p.t_w) { return; }
    for (var k = 0u; k < 8u; k++) {
        let j = j0 + LANES * k;
        if (j >= p.t_count) { return; }
        let channel = p.t0 + j;
        let at = p.t_offset + ((n * p.t_channels + channel) * p.t_h + oh) * p.t_w + ox;
        var v = select(hi[k % 4u], lo[k % 4u], k < 4u);
        if (p.has_bias != 0u) { v += bias[channel]; }
        if (p.relu != 0u) { v = max(v, 0.0); }
        if (p.accumulate != 0u) { v += dst[at]; }
        dst[at] = v;
    }
}
