// ReLU where it is not fused into a convolution (the FC layers), and the ReLU backward
// pass for every layer. Elementwise over tensors of any shape.
//
//   forward:  x (L) -> y (L),  y = max(x, 0)
//   backward: y (L), dy (L) -> dx (L),  dx = dy where y > 0, else 0
//
// The backward pass takes the ReLU *output* y, so it also serves convolutions with a
// fused ReLU, which never materialise their pre-activation.
//
// Both entry points share one binding layout: forward binds x, y; backward binds
// y, dx, dy. `a` is the input x or the output y; `out` is y or dx.

struct ReluParams {
    count: u32,
    // element offsets of this piece inside the bound chunks
    a_offset: u32, out_offset: u32, dy_offset: u32,
}

@group(0) @binding(0) var<uniform> p: ReluParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;          // x or y
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // y or dx
@group(0) @binding(3) var<storage, read> dy: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_forward(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    if (index >= p.count) { return; }
    out[p.out_offset + index] = max(a[p.a_offset + index], 0.0);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_backward(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    if (index >= p.count) { return; }
    let alive = a[p.a_offset + index] > 0.0;
    out[p.out_offset + index] = select(0.0, dy[p.dy_offset + index], alive);
}
