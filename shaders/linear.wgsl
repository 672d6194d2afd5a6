// Fully connected layer (GEMM), forward and backward. Weight in PyTorch's [out, in]
// layout:
//
//   x (N, K)   w (O, K)   b (O)   y (N, O) = x·wᵀ + b, optional ReLU
//   dx (N, K) = dy·w      dw (O, K) = dyᵀ·x      db (O) = Σ_n dy
//
// Each dispatch sees one piece of the rows of the activations (x, y, dx, dy are split
// along N) and one chunk of the weight (split along O: the chunk holds output rows
// [o_begin, o_begin + o_count)). The launcher sums over pieces or chunks with the
// `accumulate` flag: the first dispatch writes, later ones add to what is there.
//
// One invocation computes a 4×4 register tile of outputs, no workgroup memory. Rows of
// a tile past the end are clamped onto the last valid row for loading (the loads stay
// in bounds and branch-free) and skipped on store.
//
// Parameters: LinearParams (prelude.wgsl), bound at 0 by every entry point.

// ---- forward: y[n, o] = Σ_k x[n, k]·w[o, k] + b[o] ----------------------------------
// Tile: 4 rows n × 4 outputs o of the weight chunk.

const K_BLOCK: u32 = 128u; // terms per block of the forward and input-gradient sums

@group(0) @binding(0) var<uniform> fp: LinearParams;
@group(0) @binding(1) var<storage, read> f_x: array<f32>;      // (rows, K) piece
@group(0) @binding(2) var<storage, read> f_w: array<u32>;      // (o_count, K) chunk (see stored_weight)
@group(0) @binding(3) var<storage, read> f_b: array<f32>;      // (O)
@group(0) @binding(4) var<storage, read_write> f_y: array<f32>; // (rows, O) piece

// Element `at` of the forward pass's weight chunk.
fn forward_weight(at: u32) -> f32 { return stored_weight(f_w[word_of_weight(at)], at); }

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_forward(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let tiles_o = (fp.o_count + 3u) / 4u;
    let tiles_n = (fp.rows + 3u) / 4u;
    if (index >= tiles_o * tiles_n) { return; }
    let o0 = (index % tiles_o) * 4u; // local to the weight chunk
    let n0 = (index / tiles_o) * 4u;
    let k_len = fp.in_features;

    let x0 = fp.x_offset + min(n0, fp.rows - 1u) * k_len;
    let x1 = fp.x_offset + min(n0 + 1u, fp.rows - 1u) * k_len;
    let x2 = fp.x_offset + min(n0 + 2u, fp.rows - 1u) * k_len;
    let x3 = fp.x_offset + min(n0 + 3u, fp.rows - 1u) * k_len;
    let w0 = min(o0, fp.o_count - 1u) * k_len;
    let w1 = min(o0 + 1u, fp.o_count - 1u) * k_len;
    let w2 = min(o0 + 2u, fp.o_count - 1u) * k_len;
    let w3 = min(o0 + 3u, fp.o_count - 1u) * k_len;

    // acc[i][j]: row n0 + i, output o0 + j. Blocked sums: each block of K_BLOCK inputs
    // adds up in `part` first (fp32 rounding grows with the length of a sequential sum:
    // fc6 has 25 088 inputs).
    var acc = array<vec4<f32>, 4>();
    for (var b = 0u; b < k_len; b += K_BLOCK) {
        var part = array<vec4<f32>, 4>();
        for (var k = b; k < min(b + K_BLOCK, k_len); k++) {
            let wv = vec4<f32>(forward_weight(w0 + k), forward_weight(w1 + k), forward_weight(w2 + k),
                               forward_weight(w3 + k));
            part[0] += f_x[x0 + k] * wv;
            part[1] += f_x[x1 + k] * wv;
            part[2] += f_x[x2 + k] * wv;
            part[3] += f_x[x3 + k] * wv;
        }
        acc[0] += part[0];
        acc[1] += part[1];
        acc[2] += part[2];
        acc[3] += part[3];
    }

    for (var i = 0u; i < 4u; i++) {
        if (n0 + i >= fp.rows) { break; }
        let y_row = fp.y_offset + (n0 + i) * fp.out_features + fp.o_begin;
        for (var j = 0u; j < 4u; j++) {
            if (o0 + j >= fp.o_count) { break; }
            var v = acc[i][j] + f_b[fp.o_begin + o0 + j];
            if (fp.relu != 0u) { v = max(v, 0.0); }
            f_y[y_row + o0 + j] = v;
        }
    }
}

// ---- backward data: dx[n, k] (+)= Σ_{o in chunk} dy[n, o]·w[o, k] ---------------------
// Tile: 4 rows n × 4 input features k. Summed over weight chunks with `accumulate`.

@group(0) @binding(0) var<uniform> dp: LinearParams;
@group(0) @binding(1) var<storage, read> d_dy: array<f32>;       // (rows, O) piece
@group(0) @binding(2) var<storage, read> d_w: array<f32>;        // (o_count, K) chunk
@group(0) @binding(3) var<storage, read_write> d_dx: array<f32>; // (rows, K) piece

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_backward_data(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let k_len = dp.in_features;
    let tiles_k = (k_len + 3u) / 4u;
    let tiles_n = (dp.rows + 3u) / 4u;
    if (index >= tiles_k * tiles_n) { return; }
    let k0 = (index % tiles_k) * 4u;
    let n0 = (index / tiles_k) * 4u;

    let g0 = dp.y_offset + min(n0, dp.rows - 1u) * dp.out_features + dp.o_begin;
    let g1 = dp.y_offset + min(n0 + 1u, dp.rows - 1u) * dp.out_features + dp.o_begin;
    let g2 = dp.y_offset + min(n0 + 2u, dp.rows - 1u) * dp.out_features + dp.o_begin;
    let g3 = dp.y_offset + min(n0 + 3u, dp.rows - 1u) * dp.out_features + dp.o_begin;
    let c0 = k0;
    let c1 = min(k0 + 1u, k_len - 1u);
    let c2 = min(k0 + 2u, k_len - 1u);
    let c3 = min(k0 + 3u, k_len - 1u);

    // acc[i][j]: row n0 + i, feature k0 + j; blocked sums over the outputs as in the
    // forward pass (fc7's and fc8's input gradients sum 4096 terms).
    var acc = array<vec4<f32>, 4>();
    for (var b = 0u; b < dp.o_count; b += K_BLOCK) {
        var part = array<vec4<f32>, 4>();
        for (var o = b; o < min(b + K_BLOCK, dp.o_count); o++) {
            let w_row = o * k_len;
            let wv = vec4<f32>(d_w[w_row + c0], d_w[w_row + c1], d_w[w_row + c2], d_w[w_row + c3]);
            part[0] += d_dy[g0 + o] * wv;
            part[1] += d_dy[g1 + o] * wv;
            part[2] += d_dy[g2 + o] * wv;
            part[3] += d_dy[g3 + o] * wv;
        }
        acc[0] += part[0];
        acc[1] += part[1];
        acc[2] += part[2];
        acc[3] += part[3];
    }

    for (var i = 0u; i < 4u; i++) {
        if (n0 + i >= dp.rows) { break; }
        let dx_row = dp.x_offset + (n0 + i) * k_len;
        for (var j = 0u; j < 4u; j++) {
            if (k0 + j >= k_len) { break; }
            var v = acc[i][j];
            if (dp.accumulate != 0u) { v += d_dx[dx_row + k0 + j]; }
            d_dx[dx_row + k0 + j] = v;
        }
    }
}

// ---- backward weight: dw[o, k] (+)= Σ_{n in piece} dy[n, o]·x[n, k] ---------------------
// Tile: 4 outputs o of the chunk × 4 input features k. Summed over row pieces.

@group(0) @binding(0) var<uniform> wp: LinearParams;
@group(0) @binding(1) var<storage, read> w_x: array<f32>;        // (rows, K) piece
@group(0) @binding(2) var<storage, read> w_dy: array<f32>;       // (rows, O) piece
@group(0) @binding(3) var<storage, read_write> w_dw: array<f32>; // (o_count, K) chunk

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_backward_weight(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let k_len = wp.in_features;
    let tiles_k = (k_len + 3u) / 4u;
    let tiles_o = (wp.o_count + 3u) / 4u;
    if (index >= tiles_k * tiles_o) { return; }
    let k0 = (index % tiles_k) * 4u;
    let o0 = (index / tiles_k) * 4u; // local to the weight chunk

    // columns of dy (global output index) and of x, clamped for loading
    let d0 = wp.o_begin + o0;
    let d1 = wp.o_begin + min(o0 + 1u, wp.o_count - 1u);
    let d2 = wp.o_begin + min(o0 + 2u, wp.o_count - 1u);
    let d3 = wp.o_begin + min(o0 + 3u, wp.o_count - 1u);
    let c0 = k0;
    let c1 = min(k0 + 1u, k_len - 1u);
    let c2 = min(k0 + 2u, k_len - 1u);
    let c3 = min(k0 + 3u, k_len - 1u);

    // acc[i][j]: output o0 + i, feature k0 + j
    var acc = array<vec4<f32>, 4>();
    for (var n = 0u; n < wp.rows; n++) {
        let x_row = wp.x_offset + n * k_len;
        let g_row = wp.y_offset + n * wp.out_features;
        let xv = vec4<f32>(w_x[x_row + c0], w_x[x_row + c1], w_x[x_row + c2], w_x[x_row + c3]);
        acc[0] += w_dy[g_row + d0] * xv;
        acc[1] += w_dy[g_row + d1] * xv;
        acc[2] += w_dy[g_row + d2] * xv;
        acc[3] += w_dy[g_row + d3] * xv;
    }

    for (var i = 0u; i < 4u; i++) {
        if (o0 + i >= wp.o_count) { break; }
        let dw_row = (o0 + i) * k_len;
        for (var j = 0u; j < 4u; j++) {
            if (k0 + j >= k_len) { break; }
            var v = acc[i][j];
            if (wp.accumulate != 0u) { v += w_dw[dw_row + k0 + j]; }
            w_dw[dw_row + k0 + j] = v;
        }
    }
}

// ---- backward bias: db[o] (+)= Σ_{n in piece} dy[n, o] ---------------------------------
// One output per invocation, all O outputs (the bias is never split).

@group(0) @binding(0) var<uniform> bp: LinearParams;
@group(0) @binding(1) var<storage, read> b_dy: array<f32>;       // (rows, O) piece
@group(0) @binding(2) var<storage, read_write> b_db: array<f32>; // (O)

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_backward_bias(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let o = flat_index(wid, nwg, lid);
    if (o >= bp.out_features) { return; }
    var acc = 0.0;
    for (var n = 0u; n < bp.rows; n++) {
        acc += b_dy[bp.y_offset + n * bp.out_features + o];
    }
    if (bp.accumulate != 0u) { acc += b_db[o]; }
    b_db[o] = acc;
}
