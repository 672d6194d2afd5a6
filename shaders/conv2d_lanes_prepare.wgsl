// The two buffers conv2d_lanes.wgsl reads instead of the source and the weight chunk
// (its header gives their layouts): the source with its zero padding written out in rows
// of whole vec4, and the filter values of each block of 32 target channels at one
// (source channel, tap) side by side. One invocation writes one vec4 of either.
//
// Both run before every convolution that uses them, so they always see the current
// source and weight (in training the weight changes every step). They are cheap beside
// it: one pass over the source and one over the weight chunk, against K² · ⌈t_count / 32⌉
// passes over the source and t_h · ⌈t_w / 8⌉ · batch over the weight in the convolution
// (the launcher runs conv2d.wgsl instead where the filters are used only once or twice).

@group(0) @binding(0) var<uniform> p: ConvolveParams;
@group(0) @binding(1) var<storage, read> src: array<u32>;             // source, or weight chunk (see stored_weight)
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>; // padded or filters

// src at (n, s0 + i, r − pad, c − pad), 0 outside it.
fn source_at(n: u32, i: u32, r: u32, c: u32) -> f32 {
    let row = i32(r) - p.pad;
    let column = i32(c) - p.pad;
    return select(0.0, bitcast<f32>(src[conv_source_index(p, n, i, row, column)]), conv_source_inside(p, row, column));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn pad_source(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let row4 = lanes_padded_width(p) / 4u;
    let rows = p.t_h + p.kernel - 1u;
    if (index >= p.batch * p.s_count * rows * row4) { return; }
    let c = (index % row4) * 4u;
    let r = (index / row4) % rows;
    let i = (index / (row4 * rows)) % p.s_count;
    let n = index / (row4 * rows * p.s_count);
    dst[index] = vec4<f32>(source_at(n, i, r, c), source_at(n, i, r, c + 1u),
                           source_at(n, i, r, c + 2u), source_at(n, i, r, c + 3u));
}

// g(j, i, tap) (conv2d.wgsl's header), 0 for channels past t_count.
fn filter_at(j: u32, i: u32, tap: u32) -> f32 {
    let kk = p.kernel * p.kernel;
    let at = min(j, p.t_count - 1u) * p.w_t_stride + i * p.w_s_stride
        + select(tap, kk - 1u - tap, p.flip != 0u);
    return select(0.0, stored_weight(src[word_of_weight(at)], at), j < p.t_count);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather_filters(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let kk = p.kernel * p.kernel;
    let blocks_t = (p.t_count + 31u) / 32u;
    let quarters = min(32u, (p.t_count + 3u) / 4u * 4u) / 4u; // vec4 per block and tap
    if (index >= blocks_t * p.s_count * kk * quarters) { return; }
    let quarter = index % quarters; // channels 4q .. 4q + 3 of the block
    let tap = (index / quarters) % kk;
    let i = (index / (quarters * kk)) % p.s_count;
    let j = (index / (quarters * kk * p.s_count)) * 32u + quarter * 4u;
    dst[index] = vec4<f32>(filter_at(j, i, tap), filter_at(j + 1u, i, tap),
                           filter_at(j + 2u, i, tap), filter_at(j + 3u, i, tap));
}
