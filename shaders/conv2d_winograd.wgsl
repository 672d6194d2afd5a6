// The products of Winograd's F(4×4, 3×3) convolution on SwiftShader (see
// conv2d_winograd_input.wgsl for the whole method): for each of the 36 points
// (ξ, ν) of the transformed 6×6 tiles, one matrix product over the source channels,
//
//   M[ξν, j, q] = Σ_i U[ξν, j, i] · V[ξν, i, q],
//
// with q a 4×4 tile of the target (winograd_columns in prelude.wgsl), i a source and j
// a target channel. This is where the work is: 36 multiply-adds per tile, channel pair
// against the direct convolution's 144 (16 pixels × 9 taps).
//
// Layouts (U and V written by conv2d_winograd_input.wgsl, M read by
// conv2d_winograd_output.wgsl):
//   transformed_source (V): (36, s_count, Q) with Q = winograd_columns(p);
//   transformed_filters (U): (36, ⌈t_count / 32⌉, s_count, BW), BW = winograd_block_width(p):
//       the target channels of one block side by side, then 32 more values (a narrow
//       block's lanes read past it: values of channels they do not store);
//   products (M): (36, t_count, Q).
//
// Tiling and loads as conv2d_lanes.wgsl, whose header says why (SwiftShader's 4-lane
// SIMD groups and the fast paths of its atomic loads): a quad of 4 invocations shares
// one point, 8 columns and a block of 32 target channels; lane l computes channels
// l, l + 4, …, l + 28 (64 accumulators). Per source channel the quad's 8 column loads
// are equal across its lanes and its 8 filter loads sequential. Each block of
// CHANNEL_BLOCK source channels is summed apart, then added to the running sums.

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read_write> transformed_source: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> transformed_filters: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> products: array<f32>;

const LANES: u32 = 4u;
const BLOCK_T: u32 = 32u;
const TILE_Q: u32 = 8u;
const CHANNEL_BLOCK: u32 = 8u;
const POINTS: u32 = 36u;

fn source_value(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&transformed_source[at])); }
fn filter_value(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&transformed_filters[at])); }

@compute @workgroup_size(WORKGROUP_SIZE)
fn winograd_products(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let flat = flat_index(wid, nwg, lid);
    let lane = flat % LANES;
    let quad = flat / LANES;
    let columns = winograd_columns(p);
    let groups_q = columns / TILE_Q;
    let blocks_t = (p.t_count + BLOCK_T - 1u) / BLOCK_T;
    if (quad >= POINTS * blocks_t * groups_q) { return; }

    let qg = quad % groups_q;
    let jb = (quad / groups_q) % blocks_t;
    let point = quad / (groups_q * blocks_t);

    let width = winograd_block_width(p);
    let v_base = point * p.s_count * columns + qg * TILE_Q;
    let u_base = (point * blocks_t + jb) * p.s_count * width + lane;

    var acc = RowTile();
    for (var i0 = 0u; i0 < p.s_count; i0 += CHANNEL_BLOCK) {
        var part = RowTile();
        for (var i = i0; i < min(i0 + CHANNEL_BLOCK, p.s_count); i++) {
            let at = v_base + i * columns;
            let v = Window(vec4<f32>(source_value(at), source_value(at + 1u), source_value(at + 2u), source_value(at + 3u)),
                           vec4<f32>(source_value(at + 4u), source_value(at + 5u), source_value(at + 6u), source_value(at + 7u)));
            let g = u_base + i * width;
            part = multiply_add(part,
                vec4<f32>(filter_value(g), filter_value(g + 4u), filter_value(g + 8u), filter_value(g + 12u)),
                vec4<f32>(filter_value(g + 16u), filter_value(g + 20u), filter_value(g + 24u), filter_value(g + 28u)), v);
        }
        acc = add_rows(acc, part);
    }

    let j0 = jb * BLOCK_T + lane;
    let m_base = point * p.t_count * columns + qg * TILE_Q;
    store_column(m_base, j0, 0u, acc.ll[0], acc.hl[0]);
    store_column(m_base, j0, 1u, acc.ll[1], acc.hl[1]);
    store_column(m_base, j0, 2u, acc.ll[2], acc.hl[2]);
    store_column(m_base, j0, 3u, acc.ll[3], acc.hl[3]);
    store_column(m_base, j0, 4u, acc.lh[0], acc.hh[0]);
    store_column(m_base, j0, 5u, acc.lh[1], acc.hh[1]);
    store_column(m_base, j0, 6u, acc.lh[2], acc.hh[2]);
    store_column(m_base, j0, 7u, acc.lh[3], acc.hh[3]);
}

// products at column `c` of the quad's 8 for the lane's channels j0 + LANES · k, k = 0..3
// (`lo`) and 4..7 (`hi`), skipping channels past t_count.
fn store_column(m_base: u32, j0: u32, c: u32, lo: vec4<f32>, hi: vec4<f32>) {
    let columns = winograd_columns(p);
    for (var k = 0u; k < 8u; k++) {
        let j = j0 + LANES * k;
        if (j >= p.t_count) { return; }
        products[m_base + j * columns + c] = select(hi[k % 4u], lo[k % 4u], k < 4u);
    }
}
