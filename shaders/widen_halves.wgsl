// A piece of a weight stored as IEEE halves (gpu::tensor::Storage::F16, two to a u32)
// widened into f32, exactly: values[i] = half `first + i` of the words, for i < count.
// For a kernel that would otherwise decode each half many times (linear.wgsl on several
// tiles of rows, on SwiftShader: see kernels::widen). Oracle: the halves themselves
// (gpu::tensor::unpack_halves); tests/kernels/f16_weights.rs.
//
// Each invocation widens pairs of halves (one word, one vec2 store, so the buffer needs
// room for count rounded up to even), `first` being even (kernels::widen). Consecutive
// invocations load consecutive words: SwiftShader's atomic-load fast path, one vector
// load per 4 invocations, as in linear_lanes.wgsl. A grid of at most 2^16 invocations
// loops over the pairs: SwiftShader's cost per workgroup outweighed one pair's work, and
// with a workgroup per 64 pairs VGG-16's FC layers took 1.7 s to widen at 18 rows; a
// branch for an odd `first` in the loop cost 0.4 s more than its absence.

struct WidenParams {
    first: u32, // the first half to widen, counted from the start of the bound words; even
    count: u32,
    _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: WidenParams;
@group(0) @binding(1) var<storage, read_write> halves: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> values: array<vec2<f32>>;

fn word(at: u32) -> u32 { return atomicLoad(&halves[at]); }

@compute @workgroup_size(WORKGROUP_SIZE)
fn widen_halves(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    // Pairs index, index + stride, …
    let stride = nwg.x * nwg.y * WORKGROUP_SIZE; // every invocation of the grid
    for (var index = flat_index(wid, nwg, lid); 2u * index < p.count; index += stride) {
        let w = word(p.first / 2u + index);
        values[index] = vec2<f32>(half_value(w & 0xffffu), half_value(w >> 16u));
    }
}
