// Declarations that several shaders share. `kernels::shader!` appends this file to every
// shader (WGSL declarations may come in any order; appending keeps the line numbers of
// naga's messages those of the shader's own file), so no shader repeats them.
// tests/shaders.rs checks each struct here against the Rust struct that fills it.

// Invocations per workgroup of every kernel: a multiple of every adapter's SIMD width,
// well under the 256 WebGPU guarantees. The same value as Rust's
// `kernels::WORKGROUP_SIZE` (tests/shaders.rs checks that they agree).
const WORKGROUP_SIZE: u32 = 64u;

// The number of this workgroup in the 1-D grid that the launcher folds into 2-D when it
// has more workgroups than a dimension allows (`kernels::fold_workgroups`).
fn workgroup_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// The number of this invocation in that 1-D grid; past the end of the work in the last
// workgroup (or a spare row of the fold), so kernels bounds-check it.
fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return workgroup_index(wid, nwg) * WORKGROUP_SIZE + lid;
}

// Whether the weight a kernel reads is stored as IEEE halves, two to a u32 (element e
// in the low half of word e / 2 when e is even): `gpu::tensor::Storage::F16`, set by
// the launchers. Kernels that read weights bind them as u32 words and read each value
// through `stored_weight`; the arithmetic stays f32.
override WEIGHTS_F16: bool = false;

// Element `at` of a weight, given the word that holds it (`word_of_weight(at)`).
fn stored_weight(word: u32, at: u32) -> f32 {
    if (WEIGHTS_F16) { return half_value(select(word & 0xffffu, word >> 16u, (at & 1u) == 1u)); }
    return bitcast<f32>(word);
}

// The IEEE half `h` as f32, exactly. Not `unpack2x16float`: naga accepts that only where
// the device grants half-in-float conversions (Mesa's lavapipe only with shaderFloat16),
// and this file is in every shader. The exponent is rebiased in the bits; a subnormal
// half (magnitude under 2^-14) is taken from the normal float 2^-14 + m·2^-24 minus
// 2^-14, exactly, so no subnormal float (which a device may flush) is ever formed. No
// branch: SwiftShader runs a branch on data as masked code for both sides.
fn half_value(h: u32) -> f32 {
    let magnitude = h & 0x7fffu;
    // Compared as i32 (the same values): SSE, under SwiftShader, has no unsigned compare.
    let m = i32(magnitude);
    let bits = (magnitude << 13u) + 0x38000000u; // exponent + 112
    let normal = select(bits, bits | 0x7f800000u, m >= 0x7c00); // infinity, NaN
    let subnormal = bitcast<f32>(bits + 0x00800000u) - 6.103515625e-5; // 2^-14
    let value = select(bitcast<f32>(normal), subnormal, m < 0x400);
    return bitcast<f32>(bitcast<u32>(value) | ((h & 0x8000u) << 16u));
}

// The word of a weight that holds element `at`.
fn word_of_weight(at: u32) -> u32 {
    return select(at, at / 2u, WEIGHTS_F16);
}

// One stride-1 convolution of a source s into a target t, the forward pass and the input
// gradient alike (conv2d.wgsl, conv2d_subgroup.wgsl: their headers give the formula).
struct ConvolveParams {
    batch: u32, s_count: u32, s_h: u32, s_w: u32,
    t_count: u32, t_h: u32, t_w: u32, kernel: u32,
    pad: i32, relu: u32, accumulate: u32, has_bias: u32, // pad < 0 crops
    // channels of the bound s / t tensors and the first one this dispatch reads / writes
    s_channels: u32, s0: u32, t_channels: u32, t0: u32,
    // element offsets of this piece's first sample inside the bound s / t chunks
    s_offset: u32, t_offset: u32,
    w_t_stride: u32, w_s_stride: u32, flip: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

// The weight and bias gradients of a convolution (conv2d_backward_weight*.wgsl).
struct ConvParams {
    batch: u32, in_channels: u32, in_h: u32, in_w: u32,
    out_channels: u32, out_h: u32, out_w: u32, kernel: u32,
    pad: u32, relu: u32, o_begin: u32, o_count: u32,
    // element offsets of this piece's first sample inside the bound x / dy chunks
    x_offset: u32, y_offset: u32, accumulate: u32, parts: u32,
    // rows (n, oh) per part; index of the chunk's first channel in db_out
    rows_per_part: u32, db_base: u32, _pad0: u32, _pad1: u32,
}

// A fully connected layer (linear.wgsl, linear_subgroup.wgsl).
struct LinearParams {
    rows: u32,          // rows of this piece of x / y / dx / dy
    in_features: u32,   // K
    out_features: u32,  // O: the row stride of y and dy
    o_begin: u32,       // first output row held by the bound weight chunk
    o_count: u32,       // output rows held by the bound weight chunk
    relu: u32,
    accumulate: u32,    // 0: write the result, 1: add it to the output
    // element offsets of this piece's first row inside the bound x (or dx) chunk and
    // the bound y (or dy) chunk
    x_offset: u32,
    y_offset: u32,
    _pad0: u32, _pad1: u32, _pad2: u32,
}

// Where the source value at (sample n, channel s0 + i, row, column) of a convolution
// sits in the bound source, the row and column clamped into it; conv_source_inside says
// whether they were inside (else the value is padding, 0). For the kernels that copy
// the source (conv2d_lanes_prepare.wgsl, conv2d_winograd_input.wgsl).
fn conv_source_index(p: ConvolveParams, n: u32, i: u32, row: i32, column: i32) -> u32 {
    return p.s_offset + ((n * p.s_channels + p.s0 + i) * p.s_h
        + u32(clamp(row, 0, i32(p.s_h) - 1))) * p.s_w + u32(clamp(column, 0, i32(p.s_w) - 1));
}

fn conv_source_inside(p: ConvolveParams, row: i32, column: i32) -> bool {
    return row >= 0 && row < i32(p.s_h) && column >= 0 && column < i32(p.s_w);
}

// Row length of the zero-padded source copy conv2d_lanes.wgsl reads (conv2d_lanes_prepare.wgsl
// writes it in vec4): the tiles' 8 columns each, plus the K − 1 columns a tile's window
// slides over, rounded up to whole vec4.
fn lanes_padded_width(p: ConvolveParams) -> u32 {
    return (p.t_w + 7u) / 8u * 8u + 4u * (1u + (p.kernel - 1u) / 4u);
}

// ---- the conv kernels' tiles (conv2d.wgsl, conv2d_subgroup.wgsl, conv2d_lanes.wgsl) ----

// 8 target channels × 8 columns of one row: <channels><columns>, lo/hi = 0..3 / 4..7.
struct RowTile { ll: mat4x4<f32>, lh: mat4x4<f32>, hl: mat4x4<f32>, hh: mat4x4<f32> }
// 8 consecutive source values of one row: columns 0..3 and 4..7.
struct Window { lo: vec4<f32>, hi: vec4<f32> }

// u ⊗ v: column j is u · v[j].
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// t + (filter values of 8 channels) ⊗ (8 source values).
fn multiply_add(t: RowTile, g_lo: vec4<f32>, g_hi: vec4<f32>, v: Window) -> RowTile {
    return RowTile(t.ll + outer(g_lo, v.lo), t.lh + outer(g_lo, v.hi),
                   t.hl + outer(g_hi, v.lo), t.hh + outer(g_hi, v.hi));
}

fn add_rows(a: RowTile, b: RowTile) -> RowTile {
    return RowTile(a.ll + b.ll, a.lh + b.lh, a.hl + b.hl, a.hh + b.hh);
}

// ---- Winograd F(4×4, 3×3) (conv2d_winograd.wgsl, conv2d_winograd_transform.wgsl) ----

// The 4×4 tiles of the target over the batch: (n, tile row, tile column), row-major.
fn winograd_tile_count(p: ConvolveParams) -> u32 {
    return p.batch * ((p.t_h + 3u) / 4u) * ((p.t_w + 3u) / 4u);
}

// Tile q as (n, tile row, tile column).
fn winograd_tile(p: ConvolveParams, q: u32) -> vec3<u32> {
    let tiles_w = (p.t_w + 3u) / 4u;
    let tiles_h = (p.t_h + 3u) / 4u;
    return vec3<u32>(q / (tiles_w * tiles_h), (q / tiles_w) % tiles_h, q % tiles_w);
}

// The columns of the Winograd products: one per tile, rounded up to whole 8-column
// groups.
fn winograd_columns(p: ConvolveParams) -> u32 {
    return (winograd_tile_count(p) + 7u) / 8u * 8u;
}

// Six values of one row of a 6×6 tile: [0].xyz, then [1].xyz (a matrix, so that rows
// add and scale as a whole).
alias Six = mat2x3<f32>;
struct SixRows { r0: Six, r1: Six, r2: Six, r3: Six, r4: Six, r5: Six }

fn six(a: f32, b: f32, c: f32, d: f32, e: f32, f: f32) -> Six {
    return Six(vec3<f32>(a, b, c), vec3<f32>(d, e, f));
}

// Width of one block of target channels in the transformed filters: 32, or t_count
// rounded up to 4 when it is the only (narrow) block (as conv2d_lanes.wgsl's filters).
fn winograd_block_width(p: ConvolveParams) -> u32 {
    return min(32u, (p.t_count + 3u) / 4u * 4u);
}
