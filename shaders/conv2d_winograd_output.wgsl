// The last step of Winograd's F(4×4, 3×3) convolution (conv2d_winograd_input.wgsl
// explains the method, conv2d_winograd.wgsl computes the products M): each 4×4 tile of
// the target from the 6×6 products of its column q,
//
//   t[n, t0 + j, 4·th + r, 4·tw + c] (+)= (Aᵀ M[·, j, q] A)[r, c] + bias, then ReLU,
//
// skipping the rows and columns of edge tiles past the target. One invocation per
// (target channel, tile), consecutive tiles in consecutive invocations: the products'
// loads are atomic so that SwiftShader reads 4 lanes' sequential offsets as one vector.

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read_write> products: array<atomic<u32>>; // (36, t_count, winograd_columns)
@group(0) @binding(2) var<storage, read> bias: array<f32>;                   // (t_channels)
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;              // (N, t_channels, t_h, t_w)

// Aᵀ applied to six rows: the four rows of Aᵀ M.
fn product_across(m: SixRows) -> array<Six, 4> {
    return array<Six, 4>(m.r0 + m.r1 + m.r2 + m.r3 + m.r4,
                         m.r1 - m.r2 + 2.0 * (m.r3 - m.r4),
                         m.r1 + m.r2 + 4.0 * (m.r3 + m.r4),
                         m.r1 - m.r2 + 8.0 * (m.r3 - m.r4) + m.r5);
}

// The same combination of the six values of one row: (row) A.
fn product_along(x: Six) -> vec4<f32> {
    let a = x[0];
    let b = x[1];
    return vec4<f32>(a.x + a.y + a.z + b.x + b.y,
                     a.y - a.z + 2.0 * (b.x - b.y),
                     a.y + a.z + 4.0 * (b.x + b.y),
                     a.y - a.z + 8.0 * (b.x - b.y) + b.z);
}

fn product(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&products[at])); }

// Row r of the 6×6 products of column q of target channel j: the points 6r .. 6r + 5.
fn product_row(r: u32, j: u32, q: u32) -> Six {
    let columns = winograd_columns(p);
    let per_point = p.t_count * columns;
    let at = r * 6u * per_point + j * columns + q;
    return six(product(at), product(at + per_point), product(at + 2u * per_point),
               product(at + 3u * per_point), product(at + 4u * per_point), product(at + 5u * per_point));
}

// One row of a target tile: plus the bias and the optional ReLU, or added to what dst
// holds; columns past the target skipped.
fn store_row(n: u32, channel: u32, oh: u32, ow0: u32, y: vec4<f32>) {
    if (oh >= p.t_h) { return; }
    for (var c = 0u; c < 4u; c++) {
        let ow = ow0 + c;
        if (ow >= p.t_w) { return; }
        let at = p.t_offset + ((n * p.t_channels + channel) * p.t_h + oh) * p.t_w + ow;
        var v = y[c];
        if (p.has_bias != 0u) { v += bias[channel]; }
        if (p.relu != 0u) { v = max(v, 0.0); }
        if (p.accumulate != 0u) { v += dst[at]; }
        dst[at] = v;
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn transform_products(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let tiles = winograd_tile_count(p);
    if (index >= p.t_count * tiles) { return; }
    let q = index % tiles;
    let j = index / tiles;
    let tile = winograd_tile(p, q);
    let rows = product_across(SixRows(product_row(0u, j, q), product_row(1u, j, q), product_row(2u, j, q),
                                      product_row(3u, j, q), product_row(4u, j, q), product_row(5u, j, q)));
    let channel = p.t0 + j;
    let oh = tile.y * 4u;
    let ow = tile.z * 4u;
    store_row(tile.x, channel, oh, ow, product_along(rows[0]));
    store_row(tile.x, channel, oh + 1u, ow, product_along(rows[1]));
    store_row(tile.x, channel, oh + 2u, ow, product_along(rows[2]));
    store_row(tile.x, channel, oh + 3u, ow, product_along(rows[3]));
}
