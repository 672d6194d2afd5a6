// Dense-evaluation reductions of a class score map.
//
//   spatial_mean:  x (N, classes, H, W) → y (N, classes),  y[n, c] = mean over H×W
//   softmax:       x (N, classes)       → y (N, classes),  y[n, c] = exp(x − m) / Σ exp(x − m)
//                  with m the row maximum (numerically stable); x and y must differ.
//
// spatial_mean: one invocation per (sample, class), summing its plane in order.
// softmax: one invocation per sample, three passes over its row.
// Both may see one row piece of tensors chunked along N: `rows` samples starting at the
// given element offsets inside the bound chunks.

struct ScoreParams {
    rows: u32, classes: u32, plane: u32, _pad0: u32,
    // element offsets of this piece's first sample inside the bound x / y chunks
    x_offset: u32, y_offset: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: ScoreParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn spatial_mean(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid); // n * classes + c
    if (index >= p.rows * p.classes) { return; }

    let start = p.x_offset + index * p.plane;
    var sum = 0.0;
    for (var i = 0u; i < p.plane; i++) {
        sum += x[start + i];
    }
    y[p.y_offset + index] = sum / f32(p.plane);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let n = flat_index(wid, nwg, lid);
    if (n >= p.rows) { return; }

    let xrow = p.x_offset + n * p.classes;
    let yrow = p.y_offset + n * p.classes;
    var m = x[xrow];
    for (var j = 1u; j < p.classes; j++) {
        m = max(m, x[xrow + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < p.classes; j++) {
        s += exp(x[xrow + j] - m);
    }
    let inv_s = 1.0 / s;
    for (var j = 0u; j < p.classes; j++) {
        y[yrow + j] = exp(x[xrow + j] - m) * inv_s;
    }
}
