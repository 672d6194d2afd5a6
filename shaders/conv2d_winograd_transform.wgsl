// Winograd's F(4×4, 3×3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016) for 3×3 filters at stride 1: each 4×4 tile Y of the target
// comes from the 6×6 patch d of the zero-padded source under it (rows 4·th − pad ..,
// columns 4·tw − pad ..) and each 3×3 filter g as
//
//   Y = Aᵀ [ Σ_i (G g_{j,i} Gᵀ) ⊙ (Bᵀ d_i B) ] A        (⊙: element-wise, 6×6)
//
// with the matrices of the points 0, ±1, ±2 (the rows below). The sum is 36 matrix
// products over the source channels (conv2d_winograd.wgsl); this file holds the three
// transforms around them, one entry point each:
//
//   transform_filters:  U[ξν, jb, i, w] = (G g(jb·32 + w, i) Gᵀ)[ξ, ν]   (g as conv2d.wgsl's header)
//   transform_source:   V[ξν, i, q]     = (Bᵀ d_{n, s0 + i} B)[ξ, ν]     (q = tile (n, th, tw))
//   transform_products: t[n, t0 + j, 4·th + r, 4·tw + c] (+)= (Aᵀ M[·, j, q] A)[r, c] + bias, ReLU
//
// (layouts in conv2d_winograd.wgsl's header). Multiplies per tile and channel pair: 36
// instead of the direct convolution's 144, for a rounding error about 20× the direct
// sum's (measured against the f64 oracle in tests/kernels/conv.rs): the launcher runs it
// only where nothing is trained from the result (inference), and only on SwiftShader,
// where the multiply-adds are the cost (KernelSettings::conv_winograd). Columns of
// the products past the last tile, and filters of channels past t_count, are zeros.

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // weight chunk, source or products
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;  // U, V, or the target
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // (t_channels), transform_products

// Bᵀ x: the source transform of one column or row of a 6×6 patch.
fn source_rows(x: array<f32, 6>) -> array<f32, 6> {
    return array<f32, 6>(
        4.0 * x[0] - 5.0 * x[2] + x[4],
        -4.0 * x[1] - 4.0 * x[2] + x[3] + x[4],
        4.0 * x[1] - 4.0 * x[2] - x[3] + x[4],
        -2.0 * x[1] - x[2] + 2.0 * x[3] + x[4],
        2.0 * x[1] - x[2] - 2.0 * x[3] + x[4],
        4.0 * x[1] - 5.0 * x[3] + x[5]);
}

// G x: the filter transform of one column or row of a 3×3 filter.
fn filter_rows(x: array<f32, 3>) -> array<f32, 6> {
    return array<f32, 6>(
        x[0] / 4.0,
        -(x[0] + x[1] + x[2]) / 6.0,
        -(x[0] - x[1] + x[2]) / 6.0,
        x[0] / 24.0 + x[1] / 12.0 + x[2] / 6.0,
        x[0] / 24.0 - x[1] / 12.0 + x[2] / 6.0,
        x[2]);
}

// Aᵀ x: the output transform of one column or row of a 6×6 product.
fn product_rows(x: array<f32, 6>) -> array<f32, 4> {
    return array<f32, 4>(
        x[0] + x[1] + x[2] + x[3] + x[4],
        x[1] - x[2] + 2.0 * (x[3] - x[4]),
        x[1] + x[2] + 4.0 * (x[3] + x[4]),
        x[1] - x[2] + 8.0 * (x[3] - x[4]) + x[5]);
}

// (target rows, target columns) of tiles, and the tiles of the whole batch.
fn tiles_h() -> u32 { return (p.t_h + 3u) / 4u; }
fn tiles_w() -> u32 { return (p.t_w + 3u) / 4u; }
fn tile_count() -> u32 { return p.batch * tiles_h() * tiles_w(); }

@compute @workgroup_size(WORKGROUP_SIZE)
fn transform_filters(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let width = winograd_block_width(p);
    let blocks_t = (p.t_count + 31u) / 32u;
    let per_point = blocks_t * p.s_count * width;
    if (index >= per_point) { return; }
    let w = index % width;
    let i = (index / width) % p.s_count;
    let j = (index / (width * p.s_count)) * 32u + w;

    // g rows → G g (6×3) → (G g) Gᵀ (6×6), row by row.
    var g = array<array<f32, 3>, 3>();
    if (j < p.t_count) {
        for (var tap = 0u; tap < 9u; tap++) {
            let at = j * p.w_t_stride + i * p.w_s_stride + select(tap, 8u - tap, p.flip != 0u);
            g[tap / 3u][tap % 3u] = src[at];
        }
    }
    var left = array<array<f32, 3>, 6>();
    for (var c = 0u; c < 3u; c++) {
        let column = filter_rows(array<f32, 3>(g[0][c], g[1][c], g[2][c]));
        for (var r = 0u; r < 6u; r++) { left[r][c] = column[r]; }
    }
    for (var r = 0u; r < 6u; r++) {
        let row = filter_rows(left[r]);
        for (var c = 0u; c < 6u; c++) { dst[(r * 6u + c) * per_point + index] = row[c]; }
    }
}

// src at (n, s0 + i, row, column), 0 in the padding.
fn source_at(n: u32, i: u32, row: i32, column: i32) -> f32 {
    let inside = row >= 0 && row < i32(p.s_h) && column >= 0 && column < i32(p.s_w);
    let at = p.s_offset + ((n * p.s_channels + p.s0 + i) * p.s_h
        + u32(clamp(row, 0, i32(p.s_h) - 1))) * p.s_w + u32(clamp(column, 0, i32(p.s_w) - 1));
    return select(0.0, src[at], inside);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn transform_source(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let columns = winograd_columns(p);
    if (index >= p.s_count * columns) { return; }
    let q = index % columns;
    let i = index / columns;
    let tw = q % tiles_w();
    let th = (q / tiles_w()) % tiles_h();
    let n = q / (tiles_w() * tiles_h());
    let row0 = i32(th * 4u) - p.pad;
    let column0 = i32(tw * 4u) - p.pad;
    let in_batch = q < tile_count();

    // Bᵀ d column by column, then each row of that times B.
    var left = array<array<f32, 6>, 6>();
    for (var c = 0u; c < 6u; c++) {
        var column = array<f32, 6>();
        if (in_batch) {
            for (var r = 0u; r < 6u; r++) { column[r] = source_at(n, i, row0 + i32(r), column0 + i32(c)); }
        }
        let transformed = source_rows(column);
        for (var r = 0u; r < 6u; r++) { left[r][c] = transformed[r]; }
    }
    let per_point = p.s_count * columns;
    for (var r = 0u; r < 6u; r++) {
        let row = source_rows(left[r]);
        for (var c = 0u; c < 6u; c++) { dst[(r * 6u + c) * per_point + index] = row[c]; }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn transform_products(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let tiles = tile_count();
    if (index >= p.t_count * tiles) { return; }
    let q = index % tiles;
    let j = index / tiles;
    let tw = q % tiles_w();
    let th = (q / tiles_w()) % tiles_h();
    let n = q / (tiles_w() * tiles_h());
    let columns = winograd_columns(p);
    let per_point = p.t_count * columns;

    // Aᵀ M column by column, then each row of that times A.
    var left = array<array<f32, 6>, 4>();
    for (var c = 0u; c < 6u; c++) {
        var column = array<f32, 6>();
        for (var r = 0u; r < 6u; r++) { column[r] = src[(r * 6u + c) * per_point + j * columns + q]; }
        let transformed = product_rows(column);
        for (var r = 0u; r < 4u; r++) { left[r][c] = transformed[r]; }
    }
    let channel = p.t0 + j;
    for (var r = 0u; r < 4u; r++) {
        let oh = th * 4u + r;
        if (oh >= p.t_h) { break; }
        let row = product_rows(left[r]);
        for (var c = 0u; c < 4u; c++) {
            let ow = tw * 4u + c;
            if (ow >= p.t_w) { break; }
            let at = p.t_offset + ((n * p.t_channels + channel) * p.t_h + oh) * p.t_w + ow;
            var v = row[c];
            if (p.has_bias != 0u) { v += bias[channel]; }
            if (p.relu != 0u) { v = max(v, 0.0); }
            if (p.accumulate != 0u) { v += dst[at]; }
            dst[at] = v;
        }
    }
}
