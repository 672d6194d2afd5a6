// Local response normalisation across channels (AlexNet, Krizhevsky et al. 2012, §3.3),
// used by VGG's configuration A-LRN. NCHW.
//
//   a (N, C, H, W) -> b (N, C, H, W)
//   s_c = k + alpha · Σ_{c' = max(0, c − n/2)}^{min(C − 1, c + n/2)} a_{c'}²
//   b_c = a_c · s_c^−beta
//
// alpha is NOT divided by n (PyTorch's LocalResponseNorm divides it; the paper does not).
// Backward, with the same windows (i is in window(j) exactly when j is in window(i)):
//   da_i = db_i · s_i^−beta − 2·alpha·beta · a_i · Σ_{j ∈ window(i)} db_j · a_j · s_j^(−beta−1)
// (b_j / s_j = a_j · s_j^(−beta−1)); s is recomputed from a, nothing is stored.
//
// Both entry points share one binding layout: forward binds a, b; backward binds
// a, da, db. `out` is b or da.

struct LrnParams {
    batch: u32, channels: u32, plane: u32, // plane = H · W
    half: u32,                             // n / 2
    alpha: f32, beta: f32, k: f32,
    // element offsets of this piece's first sample inside the bound chunks
    a_offset: u32, out_offset: u32, db_offset: u32,
    _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: LrnParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;          // (N, C, H, W)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // b or da
@group(0) @binding(3) var<storage, read> db: array<f32>;         // (N, C, H, W)

// s_c at the pixel whose channel 0 is element `base` of a.
fn scale_at(base: u32, c: u32) -> f32 {
    let first = select(0u, c - p.half, c > p.half);
    let last = min(p.channels - 1u, c + p.half);
    var sum = 0.0;
    for (var j = first; j <= last; j++) {
        let v = a[base + j * p.plane];
        sum += v * v;
    }
    return p.k + p.alpha * sum;
}

// (pixel base of channel 0, channel) of the element `index` of this piece.
fn locate(index: u32) -> vec2<u32> {
    let pixel = index % p.plane;
    let c = (index / p.plane) % p.channels;
    let n = index / (p.plane * p.channels);
    return vec2<u32>(n * p.channels * p.plane + pixel, c);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn lrn_forward(@builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    if (index >= p.batch * p.channels * p.plane) { return; }
    let at = locate(index);
    let base = p.a_offset + at.x;
    let s = scale_at(base, at.y);
    out[p.out_offset + index] = a[p.a_offset + index] * pow(s, -p.beta);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn lrn_backward(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    if (index >= p.batch * p.channels * p.plane) { return; }
    let at = locate(index);
    let base = p.a_offset + at.x;
    let c = at.y;
    let first = select(0u, c - p.half, c > p.half);
    let last = min(p.channels - 1u, c + p.half);
    var cross = 0.0;
    for (var j = first; j <= last; j++) {
        let s_j = scale_at(base, j);
        let a_j = a[base + j * p.plane];
        let db_j = db[p.db_offset + at.x + j * p.plane];
        cross += db_j * a_j * pow(s_j, -p.beta - 1.0);
    }
    let a_i = a[p.a_offset + index];
    let s_i = scale_at(base, c);
    let db_i = db[p.db_offset + index];
    out[p.out_offset + index] = db_i * pow(s_i, -p.beta) - 2.0 * p.alpha * p.beta * a_i * cross;
}
