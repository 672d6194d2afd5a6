// Conv2d backward, second pass of the weight and bias gradients when the reduction was
// split into parts (see conv2d_backward_weight.wgsl): sums the partial sums of each
// element in part order (deterministic) and writes dw and db, or adds to them when
// `accumulate` is set.
//
//   dw_part (parts, o_count, C, K, K)   db_part (parts, o_count)
//   dw (o_count, C, K, K)               db (O), the chunk's channels from o_begin
//
// One invocation per element: the first o_count·C·K² invocations sum dw, the next
// o_count sum db.

struct ReduceParams {
    weights: u32,    // o_count · C · K²: elements of one dw partial
    biases: u32,     // o_count: elements of one db partial
    parts: u32,
    o_begin: u32,
    accumulate: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> dw_part: array<f32>;  // (parts, o_count, C, K, K)
@group(0) @binding(2) var<storage, read> db_part: array<f32>;  // (parts, o_count)
@group(0) @binding(3) var<storage, read_write> dw: array<f32>; // (o_count, C, K, K)
@group(0) @binding(4) var<storage, read_write> db: array<f32>; // (O)

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_weight_reduce(@builtin(workgroup_id) wid: vec3<u32>,
                                 @builtin(num_workgroups) nwg: vec3<u32>,
                                 @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    if (index < p.weights) {
        var sum = 0.0;
        for (var s = 0u; s < p.parts; s++) { sum += dw_part[s * p.weights + index]; }
        if (p.accumulate != 0u) { sum += dw[index]; }
        dw[index] = sum;
    } else if (index < p.weights + p.biases) {
        let o = index - p.weights;
        var sum = 0.0;
        for (var s = 0u; s < p.parts; s++) { sum += db_part[s * p.biases + o]; }
        if (p.accumulate != 0u) { sum += db[p.o_begin + o]; }
        db[p.o_begin + o] = sum;
    }
}
