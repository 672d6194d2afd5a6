// A convolution without padding over a small output map as a fully connected layer on
// the rows of its windows (dense evaluation's FC layers on maps past the training size;
// see Conv2d::forward): `unfold` lays out each output position's window as a row, the
// linear kernels multiply the rows by the filters seen as (O, C·k·k), and `fold` puts
// the rows of outputs back into the map.
//
//   unfold: x (N, C, H, W) → rows (N·P, C·k·k),  rows[(n·P + oh·OW + ow), (c·k + kh)·k + kw] = x[n, c, oh + kh, ow + kw]
//   fold:   rows (N·P, O) → y (N, O, OH, OW),     y[n, o, oh, ow] = rows[n·P + oh·OW + ow, o]
//
// with P = OH·OW. The order within a row is the filter's (OIHW), so each row meets the
// filter flattened as it is stored. One invocation per value written.

struct WindowsParams {
    batch: u32, channels: u32, in_h: u32, in_w: u32,
    kernel: u32, out_h: u32, out_w: u32, features: u32, // features: O, for fold
}

@group(0) @binding(0) var<uniform> p: WindowsParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // x or the output rows
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;  // the window rows or y

@compute @workgroup_size(WORKGROUP_SIZE)
fn unfold(@builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let row_len = p.channels * p.kernel * p.kernel;
    let positions = p.out_h * p.out_w;
    if (index >= p.batch * positions * row_len) { return; }
    let k = index % row_len;
    let row = index / row_len;
    let kw = k % p.kernel;
    let kh = (k / p.kernel) % p.kernel;
    let c = k / (p.kernel * p.kernel);
    let ow = (row % positions) % p.out_w;
    let oh = (row % positions) / p.out_w;
    let n = row / positions;
    dst[index] = src[((n * p.channels + c) * p.in_h + oh + kh) * p.in_w + ow + kw];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fold(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let positions = p.out_h * p.out_w;
    if (index >= p.batch * p.features * positions) { return; }
    let position = index % positions;
    let o = (index / positions) % p.features;
    let n = index / (positions * p.features);
    dst[index] = src[(n * positions + position) * p.features + o];
}
