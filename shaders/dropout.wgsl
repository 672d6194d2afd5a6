// Inverted dropout with a counter-based RNG: no mask buffer, the backward pass
// regenerates the forward pass's mask.
//
//   input (R, row_len) -> output (R, row_len),  output = input · keep · scale,
//   scale = 1 / (1 − p); rows are samples, row_len the product of the other dims.
//
// Forward: input x, output y. Backward: input dy, output dx (same key).
// Element (row r, column j) is kept when u ≥ p, where
//   u = (philox4x32_10(counter = (j, sample_base + r, 0, 0), key = (seed, step)).word0 >> 8) · 2^-24
// and r counts from the first row of the whole tensor. sample_base (the global index,
// within the step's whole batch, of the tensor's row 0) makes the mask independent of
// how a batch is split into micro-batches or across devices; chunking does not change
// it either. Matches `src/oracle/dropout.rs` bit for bit.

// Static per launch.
struct DropoutParams {
    count: u32,
    // element offsets of this piece inside the bound chunks
    in_offset: u32, out_offset: u32,
    // elements per row (sample), and the tensor row of this piece's first element
    row_len: u32, first_row: u32,
    p: f32, scale: f32,
    _pad: u32,
}

// Shared by every dropout launch of a network, rewritten between steps.
struct DropoutKey {
    seed: u32, step: u32,
    sample_base: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: DropoutParams;
@group(0) @binding(1) var<uniform> rng: DropoutKey;
@group(0) @binding(2) var<storage, read> input: array<f32>;       // (piece rows, row_len)
@group(0) @binding(3) var<storage, read_write> output: array<f32>; // (piece rows, row_len)

// High 32 bits of the 64-bit product a · b, from 16-bit halves (WGSL has no u64).
fn mul_hi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_lo = a_hi * b_lo;
    let hi_hi = a_hi * b_hi;
    let middle = (lo_lo >> 16u) + (lo_hi & 0xffffu) + (hi_lo & 0xffffu);
    return hi_hi + (lo_hi >> 16u) + (hi_lo >> 16u) + (middle >> 16u);
}

// Philox4x32-10 (Salmon et al., SC'11): 10 rounds, key bumped between rounds.
fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k += vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let hi0 = mul_hi(0xD2511F53u, c.x);
        let lo0 = 0xD2511F53u * c.x;
        let hi1 = mul_hi(0xCD9E8D57u, c.z);
        let lo1 = 0xCD9E8D57u * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn dropout(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    if (index >= params.count) { return; }
    let column = index % params.row_len;
    let sample = rng.sample_base + params.first_row + index / params.row_len;
    let bits = philox4x32_10(vec4<u32>(column, sample, 0u, 0u), vec2<u32>(rng.seed, rng.step));
    let u = f32(bits.x >> 8u) * (1.0 / 16777216.0);
    let v = input[params.in_offset + index] * params.scale;
    output[params.out_offset + index] = select(0.0, v, u >= params.p);
}
