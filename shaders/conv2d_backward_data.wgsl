// Conv2d backward, input gradient: the transposed convolution of dy with the weight.
//
//   dy (N, O, OH, OW)   w (O, C, K, K)   dx (N, C, H, W),  OH = H + 2·pad − K + 1
//
//   dx[n, c, ih, iw] = Σ_{o, kh, kw} dy[n, o, ih + pad − kh, iw + pad − kw] · w[o, c, kh, kw]
//
// dy is the gradient of the convolution's output before any ReLU. One invocation
// computes a register tile of 4 input channels × 4 adjacent input columns. The weight
// may be one chunk of a larger tensor holding output channels [o_begin, o_begin +
// o_count): this dispatch then sums over those channels only, and adds to dx when
// `accumulate` is set (every chunk after the first).

struct ConvParams {
    batch: u32, in_channels: u32, in_h: u32, in_w: u32,
    out_channels: u32, out_h: u32, out_w: u32, kernel: u32,
    pad: u32, relu: u32, o_begin: u32, o_count: u32,
    // element offsets of this piece's first sample inside the bound dx / dy chunks
    x_offset: u32, y_offset: u32, accumulate: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;       // (N, O, OH, OW)
@group(0) @binding(2) var<storage, read> w: array<f32>;        // (o_count, C, K, K)
@group(0) @binding(3) var<storage, read_write> dx: array<f32>; // (N, C, H, W)

@compute @workgroup_size(64)
fn conv2d_backward_data(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let index = (wid.x + wid.y * nwg.x) * 64u + lid;
    let tiles_x = (p.in_w + 3u) / 4u;
    let tiles_c = (p.in_channels + 3u) / 4u;
    if (index >= p.batch * tiles_c * p.in_h * tiles_x) { return; }

    let tx = index % tiles_x;
    let ih = (index / tiles_x) % p.in_h;
    let tc = (index / (tiles_x * p.in_h)) % tiles_c;
    let n = index / (tiles_x * p.in_h * tiles_c);
    let iw0 = tx * 4u;
    let c0 = tc * 4u;

    let kk = p.kernel * p.kernel;
    var acc: array<vec4<f32>, 4>;
    for (var o = 0u; o < p.o_count; o++) {
        let dy_plane = p.y_offset + (n * p.out_channels + p.o_begin + o) * p.out_h * p.out_w;
        for (var kh = 0u; kh < p.kernel; kh++) {
            let oh = i32(ih + p.pad) - i32(kh);
            if (oh < 0 || oh >= i32(p.out_h)) { continue; }
            let dy_row = dy_plane + u32(oh) * p.out_w;
            for (var kw = 0u; kw < p.kernel; kw++) {
                var g = vec4<f32>(0.0);
                for (var j = 0u; j < 4u; j++) {
                    let ow = i32(iw0 + j + p.pad) - i32(kw);
                    if (ow >= 0 && ow < i32(p.out_w)) { g[j] = dy[dy_row + u32(ow)]; }
                }
                for (var i = 0u; i < 4u; i++) {
                    if (c0 + i < p.in_channels) {
                        acc[i] += w[(o * p.in_channels + c0 + i) * kk + kh * p.kernel + kw] * g;
                    }
                }
            }
        }
    }

    for (var i = 0u; i < 4u; i++) {
        let c = c0 + i;
        if (c >= p.in_channels) { break; }
        let dx_row = p.x_offset + ((n * p.in_channels + c) * p.in_h + ih) * p.in_w;
        for (var j = 0u; j < 4u; j++) {
            if (iw0 + j < p.in_w) {
                var v = acc[i][j];
                if (p.accumulate != 0u) { v += dx[dx_row + iw0 + j]; }
                dx[dx_row + iw0 + j] = v;
            }
        }
    }
}
