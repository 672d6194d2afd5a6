// SGD with momentum and L2 weight decay, in place, PyTorch's convention (dampening 0,
// no Nesterov):
//
//   g' = grad_scale·g + weight_decay·w
//   v  = momentum·v + g'
//   w  = w − lr·v
//
// w, g, v: one row piece of three tensors of the same shape, `count` elements from the
// given element offsets. The hyper-parameters live in their own uniform buffer, shared
// by every dispatch of a step and rewritten between steps without new bind groups.

struct SgdHyper {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    grad_scale: f32,   // multiplies g first: 1 / (batches accumulated into g)
}

struct SgdParams {
    count: u32,
    w_offset: u32,
    g_offset: u32,
    v_offset: u32,
}

@group(0) @binding(0) var<uniform> hyper: SgdHyper;
@group(0) @binding(1) var<uniform> p: SgdParams;
@group(0) @binding(2) var<storage, read_write> w: array<f32>; // parameters
@group(0) @binding(3) var<storage, read> g: array<f32>;       // gradient
@group(0) @binding(4) var<storage, read_write> v: array<f32>; // momentum buffer

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgd_step(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= p.count) { return; }
    let wi = w[p.w_offset + i];
    let gi = hyper.grad_scale * g[p.g_offset + i] + hyper.weight_decay * wi;
    let vi = hyper.momentum * v[p.v_offset + i] + gi;
    v[p.v_offset + i] = vi;
    w[p.w_offset + i] = wi - hyper.lr * vi;
}
