// Winograd's F(4×4, 3×3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016) for 3×3 filters at stride 1: each 4×4 tile Y of the target
// comes from the 6×6 patch d of the zero-padded source under it (rows 4·th − pad ..,
// columns 4·tw − pad ..) and each 3×3 filter g as
//
//   Y = Aᵀ [ Σ_i (G g_{j,i} Gᵀ) ⊙ (Bᵀ d_i B) ] A        (⊙: element-wise, 6×6)
//
// with the matrices of the points 0, ±1, ±2 (their rows are written out in the
// functions below and in conv2d_winograd_output.wgsl). The sum is 36 matrix products
// over the source channels (conv2d_winograd.wgsl, whose header gives the layouts);
// this file transforms their operands, one entry point each:
//
//   transform_filters:  U[ξν, jb, i, w] = (G g(jb·32 + w, i) Gᵀ)[ξ, ν]   (g as conv2d.wgsl's header)
//   transform_source:   V[ξν, i, q]     = (Bᵀ d_{n, s0 + i} B)[ξ, ν]     (q = tile (n, th, tw))
//
// and conv2d_winograd_output.wgsl takes the products M to the target: Aᵀ M A.
// Multiplies per tile and channel pair: 36 instead of the direct convolution's 144,
// for a rounding error about 4× the direct sum's over 512 channels (tests/kernels/
// long_sums.rs): the launcher runs it only where nothing is trained from the result
// (inference), and only on SwiftShader, where the multiply-adds are the cost
// (KernelSettings::conv_winograd). Columns past the last tile and filters of channels
// past t_count are zeros.
//
// Every transform is written out with constant indices (the 6 values of a row in a
// Six, prelude.wgsl): SwiftShader keeps those in registers, where arrays indexed in
// loops went to memory lane by lane and cost as much as the products.

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> src: array<u32>;                     // weight chunk (see stored_weight) or source
@group(0) @binding(2) var<storage, read_write> transformed: array<f32>; // U or V

// Bᵀ applied to six rows: the rows of Bᵀ d.
fn source_across(d: SixRows) -> SixRows {
    return SixRows(4.0 * d.r0 - 5.0 * d.r2 + d.r4,
                   -4.0 * d.r1 - 4.0 * d.r2 + d.r3 + d.r4,
                   4.0 * d.r1 - 4.0 * d.r2 - d.r3 + d.r4,
                   -2.0 * d.r1 - d.r2 + 2.0 * d.r3 + d.r4,
                   2.0 * d.r1 - d.r2 - 2.0 * d.r3 + d.r4,
                   4.0 * d.r1 - 5.0 * d.r3 + d.r5);
}

// The same combination of the six values of one row: (row) B.
fn source_along(x: Six) -> Six {
    let a = x[0];
    let b = x[1];
    return six(4.0 * a.x - 5.0 * a.z + b.y,
               -4.0 * a.y - 4.0 * a.z + b.x + b.y,
               4.0 * a.y - 4.0 * a.z - b.x + b.y,
               -2.0 * a.y - a.z + 2.0 * b.x + b.y,
               2.0 * a.y - a.z - 2.0 * b.x + b.y,
               4.0 * a.y - 5.0 * b.x + b.z);
}

// Element `at` of the weight chunk.
fn weight(at: u32) -> f32 { return stored_weight(src[word_of_weight(at)], at); }

// G applied to the three rows of a filter: the six rows of G g.
fn filter_across(g0: vec3<f32>, g1: vec3<f32>, g2: vec3<f32>) -> array<vec3<f32>, 6> {
    return array<vec3<f32>, 6>(g0 / 4.0,
                               -(g0 + g1 + g2) / 6.0,
                               -(g0 - g1 + g2) / 6.0,
                               g0 / 24.0 + g1 / 12.0 + g2 / 6.0,
                               g0 / 24.0 - g1 / 12.0 + g2 / 6.0,
                               g2);
}

// The same combination of the three values of one row: (row) Gᵀ.
fn filter_along(x: vec3<f32>) -> Six {
    return six(x.x / 4.0,
               -(x.x + x.y + x.z) / 6.0,
               -(x.x - x.y + x.z) / 6.0,
               x.x / 24.0 + x.y / 12.0 + x.z / 6.0,
               x.x / 24.0 - x.y / 12.0 + x.z / 6.0,
               x.z);
}

// Row r of a transformed 6×6 tile into the points 6r .. 6r + 5 of entry `index`.
fn store_row(r: u32, x: Six, per_point: u32, index: u32) {
    let at = r * 6u * per_point + index;
    transformed[at] = x[0].x;
    transformed[at + per_point] = x[0].y;
    transformed[at + 2u * per_point] = x[0].z;
    transformed[at + 3u * per_point] = x[1].x;
    transformed[at + 4u * per_point] = x[1].y;
    transformed[at + 5u * per_point] = x[1].z;
}

fn store_tile(t: SixRows, per_point: u32, index: u32) {
    store_row(0u, t.r0, per_point, index);
    store_row(1u, t.r1, per_point, index);
    store_row(2u, t.r2, per_point, index);
    store_row(3u, t.r3, per_point, index);
    store_row(4u, t.r4, per_point, index);
    store_row(5u, t.r5, per_point, index);
}

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

    // The rows of g(j, i, ·) (conv2d.wgsl's header: flipped when p.flip), 0 for channels
    // past t_count.
    let at = min(j, p.t_count - 1u) * p.w_t_stride + i * p.w_s_stride;
    let inside = j < p.t_count;
    let top = select(vec3<f32>(), vec3<f32>(weight(at), weight(at + 1u), weight(at + 2u)), inside);
    let middle = select(vec3<f32>(), vec3<f32>(weight(at + 3u), weight(at + 4u), weight(at + 5u)), inside);
    let bottom = select(vec3<f32>(), vec3<f32>(weight(at + 6u), weight(at + 7u), weight(at + 8u)), inside);
    let flip = p.flip != 0u;
    let rows = filter_across(select(top, bottom.zyx, flip), select(middle, middle.zyx, flip),
                             select(bottom, top.zyx, flip));
    store_tile(SixRows(filter_along(rows[0]), filter_along(rows[1]), filter_along(rows[2]),
                       filter_along(rows[3]), filter_along(rows[4]), filter_along(rows[5])),
               per_point, index);
}

// The six values of row `row` of the source under a tile, from column `column0`: src at
// (n, s0 + i, row, column0 + c), 0 in the padding and past the batch.
fn source_row(n: u32, i: u32, row: i32, column0: i32, in_batch: bool) -> Six {
    return six(source_at(n, i, row, column0, in_batch), source_at(n, i, row, column0 + 1, in_batch),
               source_at(n, i, row, column0 + 2, in_batch), source_at(n, i, row, column0 + 3, in_batch),
               source_at(n, i, row, column0 + 4, in_batch), source_at(n, i, row, column0 + 5, in_batch));
}

fn source_at(n: u32, i: u32, row: i32, column: i32, in_batch: bool) -> f32 {
    let at = conv_source_index(p, min(n, p.batch - 1u), i, row, column);
    return select(0.0, bitcast<f32>(src[at]), in_batch && conv_source_inside(p, row, column));
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
    let tile = winograd_tile(p, q);
    let row0 = i32(tile.y * 4u) - p.pad;
    let column0 = i32(tile.z * 4u) - p.pad;
    let in_batch = q < winograd_tile_count(p);
    let d = SixRows(source_row(tile.x, i, row0, column0, in_batch),
                    source_row(tile.x, i, row0 + 1, column0, in_batch),
                    source_row(tile.x, i, row0 + 2, column0, in_batch),
                    source_row(tile.x, i, row0 + 3, column0, in_batch),
                    source_row(tile.x, i, row0 + 4, column0, in_batch),
                    source_row(tile.x, i, row0 + 5, column0, in_batch));
    let t = source_across(d);
    store_tile(SixRows(source_along(t.r0), source_along(t.r1), source_along(t.r2),
                       source_along(t.r3), source_along(t.r4), source_along(t.r5)),
               p.s_count * columns, index);
}
