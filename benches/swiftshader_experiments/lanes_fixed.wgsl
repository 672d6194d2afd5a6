// EXPERIMENT: lanes of a SIMD group (4 consecutive invocations) share (n, oh, tx) and
// differ in target channel: invocation lane l of a group computes channels
// j0 + l + 4c (c = 0..7) of a block of 32, × 8 columns. Filter loads: sequential
// across lanes; source loads: equal across lanes. Atomic loads so that SwiftShader
// takes its run-time equal/sequential fast paths.
@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read_write> padded: array<atomic<u32>, 4194304>;
@group(0) @binding(2) var<storage, read_write> filters: array<atomic<u32>, 4194304>; // [jb32][i][tap][32]
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

const CHANNEL_BLOCK: u32 = 8u;

struct RowTile { ll: mat4x4<f32>, lh: mat4x4<f32>, hl: mat4x4<f32>, hh: mat4x4<f32> }
struct Window { lo: vec4<f32>, hi: vec4<f32> }

fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}
fn multiply_add(t: RowTile, g_lo: vec4<f32>, g_hi: vec4<f32>, v: Window) -> RowTile {
    return RowTile(t.ll + outer(g_lo, v.lo), t.lh + outer(g_lo, v.hi),
                   t.hl + outer(g_hi, v.lo), t.hh + outer(g_hi, v.hi));
}
fn add_rows(a: RowTile, b: RowTile) -> RowTile {
    return RowTile(a.ll + b.ll, a.lh + b.lh, a.hl + b.hl, a.hh + b.hh);
}
fn sv(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&padded[at])); }
fn fv(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&filters[at])); }

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_vec4(@builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let flat = flat_index(wid, nwg, lid);
    let lane = flat % 4u;
    let index = flat / 4u;
    let tiles_x = (p.t_w + 7u) / 8u;
    let tiles_t = (p.t_count + 31u) / 32u;
    if (index >= p.batch * tiles_t * p.t_h * tiles_x) { return; }

    let tx = index % tiles_x;
    let oh = (index / tiles_x) % p.t_h;
    let jb = (index / (tiles_x * p.t_h)) % tiles_t;
    let n = index / (tiles_x * p.t_h * tiles_t);

    let kk = p.kernel * p.kernel;
    let row = vec4_padded_width(p);
    let plane = (p.t_h + p.kernel - 1u) * row;
    let s_base = n * p.s_count * plane + oh * row + tx * 8u;
    let g_base = jb * p.s_count * kk * 32u + lane;

    var acc = RowTile();
    for (var i0 = 0u; i0 < p.s_count; i0 += CHANNEL_BLOCK) {
        var part = RowTile();
        for (var i = i0; i < min(i0 + CHANNEL_BLOCK, p.s_count); i++) {
            for (var kh = 0u; kh < p.kernel; kh++) {
                let at = s_base + i * plane + kh * row;
                var v = Window(vec4<f32>(sv(at), sv(at + 1u), sv(at + 2u), sv(at + 3u)),
                               vec4<f32>(sv(at + 4u), sv(at + 5u), sv(at + 6u), sv(at + 7u)));
                for (var kw = 0u; kw < p.kernel; kw++) {
                    if (kw > 0u) {
                        v = Window(vec4<f32>(v.lo.yzw, v.hi.x), vec4<f32>(v.hi.yzw, sv(at + 7u + kw)));
                    }
                    let g = g_base + (i * kk + kh * p.kernel + kw) * 32u;
                    part = multiply_add(part, vec4<f32>(fv(g), fv(g + 4u), fv(g + 8u), fv(g + 12u)),
                                        vec4<f32>(fv(g + 16u), fv(g + 20u), fv(g + 24u), fv(g + 28u)), v);
                }
            }
        }
        acc = add_rows(acc, part);
    }

    let ox0 = tx * 8u;
    let j0 = jb * 32u + lane;
    store_column(n, j0, oh, ox0, acc.ll[0], acc.hl[0]);
    store_column(n, j0, oh, ox0 + 1u, acc.ll[1], acc.hl[1]);
    store_column(n, j0, oh, ox0 + 2u, acc.ll[2], acc.hl[2]);
    store_column(n, j0, oh, ox0 + 3u, acc.ll[3], acc.hl[3]);
    store_column(n, j0, oh, ox0 + 4u, acc.lh[0], acc.hh[0]);
    store_column(n, j0, oh, ox0 + 5u, acc.lh[1], acc.hh[1]);
    store_column(n, j0, oh, ox0 + 6u, acc.lh[2], acc.hh[2]);
    store_column(n, j0, oh, ox0 + 7u, acc.lh[3], acc.hh[3]);
}

// channels j0 + 4k, k = 0..7
fn store_column(n: u32, j0: u32, oh: u32, ox: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (ox >= p.t_w) { return; }
    for (var k = 0u; k < 8u; k++) {
        let j = j0 + 4u * k;
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
