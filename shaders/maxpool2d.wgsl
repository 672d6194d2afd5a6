// Max-pool 2×2, stride 2, NCHW. Odd sizes floor: OH = H / 2, OW = W / 2, and the last
// row / column of an odd input belongs to no window.
//
//   x (N, C, H, W)   y (N, C, OH, OW)   dy (N, C, OH, OW)   dx (N, C, H, W)
//
// The backward pass stores no argmax: it recomputes it from x. A window's winner is
// its first maximal element in row-major order (strictly-greater comparison), which
// gets dy; every other element of dx, including the uncovered odd edge, gets 0.
// With `relu` set, x is the output of a ReLU and dx is the gradient before it: the
// winner gets dy only where it is positive (a window of zeros passes nothing back),
// which saves the ReLU's own backward pass over the whole input.
//
// Both entry points share one binding layout: forward binds x, y; backward binds
// x, dx, dy. `out` is y in the forward pass and dx in the backward pass.

struct PoolParams {
    batch: u32, channels: u32, in_h: u32, in_w: u32,
    out_h: u32, out_w: u32,
    // element offsets of this piece's first sample inside the bound chunks
    x_offset: u32, out_offset: u32, dy_offset: u32,
    // backward: x is a ReLU's output and dx also passes back through that ReLU
    relu: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;             // (N, C, H, W)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;     // y or dx
@group(0) @binding(3) var<storage, read> dy: array<f32>;            // (N, C, OH, OW)

// The first maximum of a window and its row-major position in it (0..3).
struct WindowMax { value: f32, at: u32 }

// The window at (oh, ow) of the plane starting at element `plane` of x. All four
// values are loaded up front and compared with selects: on CPU adapters a load inside
// a branch costs a loop over the lanes of its own.
fn window_max(plane: u32, oh: u32, ow: u32) -> WindowMax {
    let top = plane + 2u * oh * p.in_w + 2u * ow;
    let bottom = top + p.in_w;
    let v = vec4<f32>(x[top], x[top + 1u], x[bottom], x[bottom + 1u]);
    var best = v.x;
    var at = 0u;
    at = select(at, 1u, v.y > best);
    best = select(best, v.y, v.y > best);
    at = select(at, 2u, v.z > best);
    best = select(best, v.z, v.z > best);
    at = select(at, 3u, v.w > best);
    best = select(best, v.w, v.w > best);
    return WindowMax(best, at);
}

// One invocation per output element.
@compute @workgroup_size(WORKGROUP_SIZE)
fn maxpool2d_forward(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let out_plane = p.out_h * p.out_w;
    if (index >= p.batch * p.channels * out_plane) { return; }
    let ow = index % p.out_w;
    let oh = (index / p.out_w) % p.out_h;
    let plane = index / out_plane; // n · C + c within this piece
    let m = window_max(p.x_offset + plane * p.in_h * p.in_w, oh, ow);
    out[p.out_offset + index] = m.value;
}

// One invocation per window: it writes the window's four elements of dx (dy at the
// winner, 0 elsewhere), and the windows at the right and bottom edges of an odd input
// also clear the column and row that no window covers.
@compute @workgroup_size(WORKGROUP_SIZE)
fn maxpool2d_backward(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let out_plane = p.out_h * p.out_w;
    if (index >= p.batch * p.channels * out_plane) { return; }
    let ow = index % p.out_w;
    let oh = (index / p.out_w) % p.out_h;
    let plane = (index / out_plane) * p.in_h * p.in_w; // n · C + c within this piece
    let m = window_max(p.x_offset + plane, oh, ow);
    let g = select(dy[p.dy_offset + index], 0.0, p.relu != 0u && !(m.value > 0.0));
    let top = p.out_offset + plane + 2u * oh * p.in_w + 2u * ow;
    let bottom = top + p.in_w;
    out[top] = select(0.0, g, m.at == 0u);
    out[top + 1u] = select(0.0, g, m.at == 1u);
    out[bottom] = select(0.0, g, m.at == 2u);
    out[bottom + 1u] = select(0.0, g, m.at == 3u);
    let right_edge = p.in_w % 2u == 1u && ow + 1u == p.out_w;
    let bottom_edge = p.in_h % 2u == 1u && oh + 1u == p.out_h;
    if (right_edge) {
        out[top + 2u] = 0.0;
        out[bottom + 2u] = 0.0;
    }
    if (bottom_edge) {
        out[bottom + p.in_w] = 0.0;
        out[bottom + p.in_w + 1u] = 0.0;
        if (right_edge) { out[bottom + p.in_w + 2u] = 0.0; }
    }
}
