// Conv2d backward, weight and bias gradients.
//
//   x (N, C, H, W)   dy (N, O, OH, OW)   dw (O, C, K, K)   db (O),  OH = H + 2·pad − K + 1
//
//   dw[o, c, kh, kw] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, c, oh + kh − pad, ow + kw − pad]
//   db[o]            = Σ_{n, oh, ow} dy[n, o, oh, ow]
//
// dy is the gradient of the convolution's output before any ReLU. Each invocation owns
// its outputs and loops over the whole reduction (deterministic, no atomics):
//   - the first tiles_o · tiles_c · K² invocations each own a register tile of
//     4 output channels × 4 input channels at one kernel position (kh, kw);
//   - the tiles_o invocations after them each own 4 bias entries.
// dw may be one chunk of a larger tensor holding output channels [o_begin, o_begin +
// o_count); db is whole and indexed from o_begin. x and dy may be one row piece of the
// batch: `accumulate` (set for every piece after the first, and for every piece when
// gradients accumulate over several batches) adds to dw and db.

struct ConvParams {
    batch: u32, in_channels: u32, in_h: u32, in_w: u32,
    out_channels: u32, out_h: u32, out_w: u32, kernel: u32,
    pad: u32, relu: u32, o_begin: u32, o_count: u32,
    // element offsets of this piece's first sample inside the bound x / dy chunks
    x_offset: u32, y_offset: u32, accumulate: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // (N, C, H, W)
@group(0) @binding(2) var<storage, read> dy: array<f32>;       // (N, O, OH, OW)
@group(0) @binding(3) var<storage, read_write> dw: array<f32>; // (o_count, C, K, K)
@group(0) @binding(4) var<storage, read_write> db: array<f32>; // (O)

@compute @workgroup_size(64)
fn conv2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let index = (wid.x + wid.y * nwg.x) * 64u + lid;
    let kk = p.kernel * p.kernel;
    let tiles_c = (p.in_channels + 3u) / 4u;
    let tiles_o = (p.o_count + 3u) / 4u;
    let weight_tiles = tiles_o * tiles_c * kk;
    if (index >= weight_tiles) {
        if (index < weight_tiles + tiles_o) { bias_tile((index - weight_tiles) * 4u); }
        return;
    }

    let kpos = index % kk;
    let kh = kpos / p.kernel;
    let kw = kpos % p.kernel;
    let c0 = ((index / kk) % tiles_c) * 4u;
    let o0 = (index / (kk * tiles_c)) * 4u; // local to the dw chunk

    // Output positions whose input tap (oh + kh − pad, ow + kw − pad) lies inside the
    // image; the others multiply padding zeros.
    let oh_begin = u32(max(i32(p.pad) - i32(kh), 0));
    let oh_end = u32(clamp(i32(p.in_h + p.pad) - i32(kh), 0, i32(p.out_h)));
    let ow_begin = u32(max(i32(p.pad) - i32(kw), 0));
    let ow_end = u32(clamp(i32(p.in_w + p.pad) - i32(kw), 0, i32(p.out_w)));

    let x_plane = p.in_h * p.in_w;
    let dy_plane = p.out_h * p.out_w;
    var acc: array<vec4<f32>, 4>; // acc[i][j]: output channel o0 + i, input channel c0 + j
    for (var n = 0u; n < p.batch; n++) {
        let x_sample = p.x_offset + (n * p.in_channels + c0) * x_plane;
        let dy_sample = p.y_offset + (n * p.out_channels + p.o_begin + o0) * dy_plane;
        for (var oh = oh_begin; oh < oh_end; oh++) {
            let x_row = x_sample + (oh + kh - p.pad) * p.in_w;
            let dy_row = dy_sample + oh * p.out_w;
            for (var ow = ow_begin; ow < ow_end; ow++) {
                let iw = ow + kw - p.pad;
                var xv = vec4<f32>(0.0);
                for (var j = 0u; j < 4u; j++) {
                    if (c0 + j < p.in_channels) { xv[j] = x[x_row + j * x_plane + iw]; }
                }
                for (var i = 0u; i < 4u; i++) {
                    if (o0 + i < p.o_count) { acc[i] += dy[dy_row + i * dy_plane + ow] * xv; }
                }
            }
        }
    }

    for (var i = 0u; i < 4u; i++) {
        if (o0 + i >= p.o_count) { break; }
        for (var j = 0u; j < 4u; j++) {
            if (c0 + j >= p.in_channels) { break; }
            let at = ((o0 + i) * p.in_channels + c0 + j) * kk + kpos;
            var v = acc[i][j];
            if (p.accumulate != 0u) { v += dw[at]; }
            dw[at] = v;
        }
    }
}

// db for the chunk's output channels o0 .. o0 + 3 (local to the chunk).
fn bias_tile(o0: u32) {
    let dy_plane = p.out_h * p.out_w;
    var acc = vec4<f32>(0.0);
    for (var n = 0u; n < p.batch; n++) {
        let dy_sample = p.y_offset + (n * p.out_channels + p.o_begin + o0) * dy_plane;
        for (var i = 0u; i < 4u; i++) {
            if (o0 + i >= p.o_count) { break; }
            var s = 0.0;
            for (var k = 0u; k < dy_plane; k++) { s += dy[dy_sample + i * dy_plane + k]; }
            acc[i] += s;
        }
    }
    for (var i = 0u; i < 4u; i++) {
        if (o0 + i >= p.o_count) { break; }
        let at = p.o_begin + o0 + i;
        var v = acc[i];
        if (p.accumulate != 0u) { v += db[at]; }
        db[at] = v;
    }
}
