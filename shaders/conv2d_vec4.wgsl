// Conv2d forward and input gradient, an opt-in alternative to conv2d.wgsl where no
// subgroup kernel runs (VGG_WGPU_CONV_VEC4=1; written for SwiftShader, where it measured
// only 1.1–1.25× faster: BENCHMARKS.md, "SwiftShader: vec4 loads and lane layouts"):
// conv2d.wgsl's one-row tile, with every storage load a vec4 from buffers laid out for
// it by conv2d_vec4_prepare.wgsl.
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
//            PH = t_h + K − 1 and PW = vec4_padded_width(p) (prelude.wgsl), so that
//            padded[n, i, r, c] = s[n, s0 + i, r − pad, c − pad] (0 outside s) and
//            every row starts at a multiple of 4;
//   filters: g for blocks of 8 target channels, (⌈t_count / 8⌉, s_count, K², 8),
//            flip applied, channels past t_count 0.
//
// Tiling: one invocation computes 8 target channels × 8 adjacent columns of one row (64
// accumulators, as conv2d.wgsl with TILE_H = 1). For each source channel i and kernel row
// kh it loads the 8 values under the tile as 2 vec4 and the next 4 as a third, then
// slides the window one column per kw; each tap (i, kh, kw) loads the 8 filter values as
// 2 vec4. So a 3×3 tap costs 3 vec4 loads for 64 multiply-adds, against 8 filter loads
// + 1 source load in conv2d.wgsl, and none of them is bounds-checked or selected.
//
// Why: SwiftShader turns every storage load with a run-time address into a per-lane
// gather (each lane behind its own branch, live values spilled around it), so what it
// runs at is set by loads per multiply-add. The hope was that a vec4 would cost about
// one f32; measured, SwiftShader loads each component apart, as its own gather. The tile stays at 64 accumulators with the taps in loops:
// larger ones take SwiftShader's Subzero compiler minutes and gigabytes.
//
// Each block of CHANNEL_BLOCK source channels is summed apart, then added to the running
// sums (fp32 rounding grows with the length of a sequential sum).

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> padded: array<vec4<f32>>;  // see the header
@group(0) @binding(2) var<storage, read> filters: array<vec4<f32>>; // see the header
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (t_channels) when has_bias
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;     // (N, t_channels, t_h, t_w)

const TILE_T: u32 = 8u; // target channels per invocation
const TILE_W: u32 = 8u; // target columns per invocation
const CHANNEL_BLOCK: u32 = 8u;

// 8 channels × 8 columns of one target row: <channels><columns>, lo/hi = 0..3 / 4..7.
struct RowTile { ll: mat4x4<f32>, lh: mat4x4<f32>, hl: mat4x4<f32>, hh: mat4x4<f32> }
// 8 consecutive source values of one row: columns 0..3 and 4..7.
struct Window { lo: vec4<f32>, hi: vec4<f32> }

// u ⊗ v: column j is u · v[j] (u: 4 channels, v: 4 columns).
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// t + (filter values of 8 channels) ⊗ (8 source values).
fn multiply_add(t: RowTile, g_lo: vec4<f32>, g_hi: vec4<f32>, v: Window) -> RowTile {
    return RowTile(t.ll + outer(g_lo, v.lo), t.lh + outer(g_lo, v.hi),
                   t.hl + outer(g_hi, v.lo), t.hh + outer(g_hi, v.hi));
}

fn add_rows(a: RowTile, b: RowTile) -> RowTile {
    return RowTile(a.ll + b.ll, a.lh + b.lh, a.hl + b.hl, a.hh + b.hh);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_vec4(@builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let tiles_x = (p.t_w + TILE_W - 1u) / TILE_W;
    let tiles_t = (p.t_count + TILE_T - 1u) / TILE_T;
    if (index >= p.batch * tiles_t * p.t_h * tiles_x) { return; }

    let tx = index % tiles_x;
    let oh = (index / tiles_x) % p.t_h;
    let jb = (index / (tiles_x * p.t_h)) % tiles_t; // block of 8 target channels
    let n = index / (tiles_x * p.t_h * tiles_t);

    let kk = p.kernel * p.kernel;
    let row4 = vec4_padded_width(p) / 4u;   // vec4 per padded row
    let plane4 = (p.t_h + p.kernel - 1u) * row4;
    // vec4 of the padded row oh + kh under tile column 0, at kh = 0, channel 0.
    let s_base = n * p.s_count * plane4 + oh * row4 + tx * (TILE_W / 4u);
    let g_base = jb * p.s_count * kk * 2u;

    var acc = RowTile();
    for (var i0 = 0u; i0 < p.s_count; i0 += CHANNEL_BLOCK) {
        var part = RowTile();
        for (var i = i0; i < min(i0 + CHANNEL_BLOCK, p.s_count); i++) {
            for (var kh = 0u; kh < p.kernel; kh++) {
                let at = s_base + i * plane4 + kh * row4;
                var v = Window(padded[at], padded[at + 1u]);
                var ahead = padded[at + 2u]; // the next 4 columns
                let g_at = g_base + (i * kk + kh * p.kernel) * 2u;
                for (var kw = 0u; kw < p.kernel; kw++) {
                    if (kw > 0u) {
                        v = Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, ahead.x));
                        ahead = vec4<f32>(ahead.yzw, 0.0);
                        if (kw % 4u == 0u) { ahead = padded[at + 2u + kw / 4u]; }
                    }
                    part = multiply_add(part, filters[g_at + 2u * kw], filters[g_at + 2u * kw + 1u], v);
                }
            }
        }
        acc = add_rows(acc, part);
    }

    let ox0 = tx * TILE_W;
    let j0 = jb * TILE_T;
    store_column(n, j0, oh, ox0, acc.ll[0], acc.hl[0]);
    store_column(n, j0, oh, ox0 + 1u, acc.ll[1], acc.hl[1]);
    store_column(n, j0, oh, ox0 + 2u, acc.ll[2], acc.hl[2]);
    store_column(n, j0, oh, ox0 + 3u, acc.ll[3], acc.hl[3]);
    store_column(n, j0, oh, ox0 + 4u, acc.lh[0], acc.hh[0]);
    store_column(n, j0, oh, ox0 + 5u, acc.lh[1], acc.hh[1]);
    store_column(n, j0, oh, ox0 + 6u, acc.lh[2], acc.hh[2]);
    store_column(n, j0, oh, ox0 + 7u, acc.lh[3], acc.hh[3]);
}

// dst at column `ox` for channels j0 .. j0 + 3 (`lo`) and j0 + 4 .. j0 + 7 (`hi`): plus
// the bias and the optional ReLU, or added to what dst holds; skips columns and channels
// outside the target (as in conv2d.wgsl).
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
