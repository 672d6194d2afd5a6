// Fully connected layer forward on SwiftShader (what a browser without a GPU runs), without
// subgroups, for pieces of one row (classifying one image): linear.wgsl's forward pass
// (its header gives the layouts and the pieces and chunks the launcher splits the work
// into),
//
//   y[n, o] = Σ_k x[n, k]·w[o, k] + b[o], optional ReLU,
//
// with the invocations laid out for SwiftShader's 4-lane SIMD groups, as
// conv2d_lanes.wgsl's header explains: a quad of 4 consecutive invocations shares 8
// outputs of one row, and lane l takes the inputs k = l, l + 4, l + 8, …, so that each
// of its loads (w[o, k], x[n, k]) is sequential across the quad: one vector load through
// SwiftShader's atomic-load fast path, where linear.wgsl's 4×4 tiles make every load a
// 4-lane gather and compute 3 clamped copies of a lone row. K must be a multiple of 4.
// The weight is read as it is, no copy (FC1's is 411 MB). VGG-16's FC layers on one
// image: 627–659 → 316–414 ms natively on SwiftShader. A variant with 4 rows per quad was
// no faster than linear.wgsl on 8 and 18 rows, and one row per quad on such pieces reads
// every weight once per row: 2–3× slower (BENCHMARKS.md, "SwiftShader: the FC layers").
//
// A weight stored as f16 (WEIGHTS_F16, K a multiple of 8): lane l takes the pairs
// k = 2l, 2l + 1, then 2l + 8, 2l + 9, …, so that its weight loads are whole words,
// sequential across the quad. With lane l at k = l two lanes would share a word, a
// gather that made the layers 4× slower (BENCHMARKS.md, "f16 weights on the GPU").
//
// Sums: each lane adds its terms of each block of K_BLOCK inputs apart (fp32 rounding
// grows with the length of a sequential sum: fc6 has 25 088 inputs), then into its
// running sums; at the end the quad's 4 lanes' sums meet in workgroup memory and each
// lane adds, in lane order, those of 2 of the 8 outputs. Every invocation reaches the
// barrier: quads past the end compute on clamped indices and store nothing.

@group(0) @binding(0) var<uniform> fp: LinearParams;
@group(0) @binding(1) var<storage, read_write> x: array<atomic<u32>>; // (rows, K) piece
@group(0) @binding(2) var<storage, read_write> w: array<atomic<u32>>; // (o_count, K) chunk, see stored_weight
@group(0) @binding(3) var<storage, read> b: array<f32>;               // (O)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;         // (rows, O) piece

const LANES: u32 = 4u;
const OUTPUTS: u32 = 8u; // per quad
const K_BLOCK: u32 = 128u; // inputs per block of the sums: K_BLOCK / LANES per lane

// Each lane's sums, (lane in the workgroup, output).
var<workgroup> sums: array<f32, WORKGROUP_SIZE * OUTPUTS>;

fn x_value(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&x[at])); }
fn w_value(at: u32) -> f32 { return bitcast<f32>(atomicLoad(&w[at])); }

// The quad's place: (first output of the chunk, row, lane, lane in the workgroup).
struct Quad { o0: u32, n: u32, lane: u32, local: u32 }

fn quad_of(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> Quad {
    let quad = flat_index(wid, nwg, lid) / LANES;
    let tiles_o = (fp.o_count + OUTPUTS - 1u) / OUTPUTS;
    return Quad((quad % tiles_o) * OUTPUTS, quad / tiles_o, lid % LANES, lid);
}

// Where output o0 + j's weight row starts (clamped into the chunk), at the lane's first
// value (f32) or word (f16: rows start on a word, K being even).
fn w_row(q: Quad, j: u32) -> u32 {
    let row = min(q.o0 + j, fp.o_count - 1u) * fp.in_features;
    return select(row + q.lane, row / 2u + q.lane, WEIGHTS_F16);
}

// Where the quad's row of x starts (clamped into the piece), at the lane's first input.
fn x_row(q: Quad) -> u32 {
    let row = fp.x_offset + min(q.n, fp.rows - 1u) * fp.in_features;
    return row + select(q.lane, 2u * q.lane, WEIGHTS_F16);
}

// The 8 weights of the quad's outputs at input k (lane l's k, offsets sequential).
fn weights_at(w0: array<u32, 8>, k: u32) -> mat2x4<f32> {
    return mat2x4<f32>(vec4<f32>(w_value(w0[0] + k), w_value(w0[1] + k), w_value(w0[2] + k), w_value(w0[3] + k)),
                       vec4<f32>(w_value(w0[4] + k), w_value(w0[5] + k), w_value(w0[6] + k), w_value(w0[7] + k)));
}

// f16: the 8 weights at the lane's inputs k (.0) and k + 1 (.1), from word `word` past
// each row's start.
fn weight_pairs(w0: array<u32, 8>, word: u32) -> array<mat2x4<f32>, 2> {
    // Written out: SwiftShader keeps an array indexed in a loop in memory, lane by lane.
    let words = array<u32, 8>(atomicLoad(&w[w0[0] + word]), atomicLoad(&w[w0[1] + word]),
                              atomicLoad(&w[w0[2] + word]), atomicLoad(&w[w0[3] + word]),
                              atomicLoad(&w[w0[4] + word]), atomicLoad(&w[w0[5] + word]),
                              atomicLoad(&w[w0[6] + word]), atomicLoad(&w[w0[7] + word]));
    let low = mat2x4<f32>(vec4<f32>(half_value(words[0] & 0xffffu), half_value(words[1] & 0xffffu),
                                    half_value(words[2] & 0xffffu), half_value(words[3] & 0xffffu)),
                          vec4<f32>(half_value(words[4] & 0xffffu), half_value(words[5] & 0xffffu),
                                    half_value(words[6] & 0xffffu), half_value(words[7] & 0xffffu)));
    let high = mat2x4<f32>(vec4<f32>(half_value(words[0] >> 16u), half_value(words[1] >> 16u),
                                     half_value(words[2] >> 16u), half_value(words[3] >> 16u)),
                           vec4<f32>(half_value(words[4] >> 16u), half_value(words[5] >> 16u),
                                     half_value(words[6] >> 16u), half_value(words[7] >> 16u)));
    return array<mat2x4<f32>, 2>(low, high);
}

fn weight_rows(q: Quad) -> array<u32, 8> {
    return array<u32, 8>(w_row(q, 0u), w_row(q, 1u), w_row(q, 2u), w_row(q, 3u),
                         w_row(q, 4u), w_row(q, 5u), w_row(q, 6u), w_row(q, 7u));
}

// After the barrier: lane l adds the quad's 4 lanes' sums of outputs 2l and 2l + 1, in
// lane order, plus the bias, then ReLU, and stores those inside the piece and chunk.
fn finish(q: Quad) {
    let first_lane = q.local - q.lane;
    for (var jj = 0u; jj < 2u; jj++) {
        let j = 2u * q.lane + jj;
        var v = 0.0;
        for (var l = 0u; l < LANES; l++) {
            v += sums[(first_lane + l) * OUTPUTS + j];
        }
        let o = q.o0 + j;
        if (q.n < fp.rows && o < fp.o_count) {
            v += b[fp.o_begin + o];
            if (fp.relu != 0u) { v = max(v, 0.0); }
            y[fp.y_offset + q.n * fp.out_features + fp.o_begin + o] = v;
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_forward_lanes(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let q = quad_of(wid, nwg, lid);
    let w0 = weight_rows(q);
    let x0 = x_row(q);
    var acc = mat2x4<f32>();
    for (var k0 = 0u; k0 < fp.in_features; k0 += K_BLOCK) {
        var part = mat2x4<f32>();
        if (WEIGHTS_F16) {
            for (var k = k0; k < min(k0 + K_BLOCK, fp.in_features); k += 2u * LANES) {
                let pair = weight_pairs(w0, k / 2u);
                part += pair[0] * x_value(x0 + k);
                part += pair[1] * x_value(x0 + k + 1u);
            }
        } else {
            for (var k = k0; k < min(k0 + K_BLOCK, fp.in_features); k += LANES) {
                part += weights_at(w0, k) * x_value(x0 + k);
            }
        }
        acc += part;
    }
    for (var j = 0u; j < OUTPUTS; j++) {
        sums[lid * OUTPUTS + j] = acc[j / 4u][j % 4u];
    }
    workgroupBarrier();
    finish(q);
}
