// Conv2d forward: NCHW, stride 1, square kernel, zero padding, bias, optional ReLU.
//
//   x (N, C, H, W)   w (O, C, K, K)   b (O)   y (N, O, OH, OW),  OH = H + 2·pad − K + 1
//
// One invocation computes a register tile of 4 output channels × 4 adjacent output
// columns (no workgroup memory: barriers are what software adapters pay most for).
// The weight may be one chunk of a larger tensor: it then holds output channels
// [o_begin, o_begin + o_count) and this dispatch writes only those channels.

struct ConvParams {
    batch: u32, in_channels: u32, in_h: u32, in_w: u32,
    out_channels: u32, out_h: u32, out_w: u32, kernel: u32,
    pad: u32, relu: u32, o_begin: u32, o_count: u32,
    // element offsets of this piece's first sample inside the bound x / y chunks
    x_offset: u32, y_offset: u32, accumulate: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// 64 invocations: a multiple of every adapter's SIMD width, well under the 256 limit.
@compute @workgroup_size(64)
fn conv2d_forward(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let index = (wid.x + wid.y * nwg.x) * 64u + lid;
    let tiles_x = (p.out_w + 3u) / 4u;
    let tiles_o = (p.o_count + 3u) / 4u;
    if (index >= p.batch * tiles_o * p.out_h * tiles_x) { return; }

    let tx = index % tiles_x;
    let oh = (index / tiles_x) % p.out_h;
    let to = (index / (tiles_x * p.out_h)) % tiles_o;
    let n = index / (tiles_x * p.out_h * tiles_o);
    let ox0 = tx * 4u;
    let o0 = to * 4u; // local to the weight chunk

    let kk = p.kernel * p.kernel;
    var acc: array<vec4<f32>, 4>;
    for (var c = 0u; c < p.in_channels; c++) {
        let x_plane = p.x_offset + (n * p.in_channels + c) * p.in_h * p.in_w;
        for (var kh = 0u; kh < p.kernel; kh++) {
            let ih = i32(oh + kh) - i32(p.pad);
            if (ih < 0 || ih >= i32(p.in_h)) { continue; }
            let x_row = x_plane + u32(ih) * p.in_w;
            for (var kw = 0u; kw < p.kernel; kw++) {
                var xv = vec4<f32>(0.0);
                for (var j = 0u; j < 4u; j++) {
                    let iw = i32(ox0 + j + kw) - i32(p.pad);
                    if (iw >= 0 && iw < i32(p.in_w)) { xv[j] = x[x_row + u32(iw)]; }
                }
                for (var i = 0u; i < 4u; i++) {
                    if (o0 + i < p.o_count) {
                        acc[i] += w[((o0 + i) * p.in_channels + c) * kk + kh * p.kernel + kw] * xv;
                    }
                }
            }
        }
    }

    for (var i = 0u; i < 4u; i++) {
        let o = p.o_begin + o0 + i;
        if (o0 + i >= p.o_count) { break; }
        let y_row = p.y_offset + ((n * p.out_channels + o) * p.out_h + oh) * p.out_w;
        for (var j = 0u; j < 4u; j++) {
            if (ox0 + j < p.out_w) {
                var v = acc[i][j] + b[o];
                if (p.relu != 0u) { v = max(v, 0.0); }
                y[y_row + ox0 + j] = v;
            }
        }
    }
}
