// Fully connected layer (GEMM), forward and the two backward products, for adapters
// with subgroups of at least 8 invocations and layers whose sizes are multiples of 4
// (linear.wgsl otherwise; the bias gradient always runs there). Same contract and
// LinearParams (prelude.wgsl) as linear.wgsl:
//
//   x (N, K)   w (O, K)   b (O)   y (N, O) = x·wᵀ + b, optional ReLU
//   dx (N, K) = dy·w      dw (O, K) = dyᵀ·x
//
// one row piece of the activations and one weight chunk (output rows [o_begin,
// o_begin + o_count)) per dispatch, `accumulate` adding to the output.
//
// Rows are read as vec4 (K, O, o_begin and the offsets are multiples of 4: checked by
// the launcher), and whatever every invocation of a workgroup needs is loaded once per
// subgroup of 8 and shared with subgroupBroadcast: invocation l of each group of 8
// loads 8 values of row l of the shared block, the others receive them. On lavapipe,
// where every storage load is a per-lane scalar loop, each step then costs 2 + 8 vec4
// loads per invocation for 256 multiply-adds (the 4×4 tiles of linear.wgsl: 8 scalar
// loads for 16). Subgroup operations need uniform control flow, so every invocation
// runs the whole loop (past the end: clamped loads, zeros, no store).

@group(0) @binding(0) var<uniform> p: LinearParams;

// 8 vec4 per invocation: row i of a shared 8-row block, 8 columns as (a, b).
struct Block { a0: vec4<f32>, b0: vec4<f32>, a1: vec4<f32>, b1: vec4<f32>,
               a2: vec4<f32>, b2: vec4<f32>, a3: vec4<f32>, b3: vec4<f32>,
               a4: vec4<f32>, b4: vec4<f32>, a5: vec4<f32>, b5: vec4<f32>,
               a6: vec4<f32>, b6: vec4<f32>, a7: vec4<f32>, b7: vec4<f32> }

// Row l (this invocation's, of 8) of the block handed to every invocation.
fn share(a: vec4<f32>, b: vec4<f32>) -> Block {
    return Block(subgroupBroadcast(a, 0u), subgroupBroadcast(b, 0u),
                 subgroupBroadcast(a, 1u), subgroupBroadcast(b, 1u),
                 subgroupBroadcast(a, 2u), subgroupBroadcast(b, 2u),
                 subgroupBroadcast(a, 3u), subgroupBroadcast(b, 3u),
                 subgroupBroadcast(a, 4u), subgroupBroadcast(b, 4u),
                 subgroupBroadcast(a, 5u), subgroupBroadcast(b, 5u),
                 subgroupBroadcast(a, 6u), subgroupBroadcast(b, 6u),
                 subgroupBroadcast(a, 7u), subgroupBroadcast(b, 7u));
}

// 8 accumulator rows of 4 outputs each.
struct Acc { r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>,
             r4: vec4<f32>, r5: vec4<f32>, r6: vec4<f32>, r7: vec4<f32> }

// 4 vectors along the 8 shared columns: column c of the block meets m[c].
struct Eight { m0: vec4<f32>, m1: vec4<f32>, m2: vec4<f32>, m3: vec4<f32>,
               m4: vec4<f32>, m5: vec4<f32>, m6: vec4<f32>, m7: vec4<f32> }

// Σ_c a[c] · m[c] over the 8 columns (a, b) of one shared row.
fn combine(a: vec4<f32>, b: vec4<f32>, m: Eight) -> vec4<f32> {
    return a.x * m.m0 + a.y * m.m1 + a.z * m.m2 + a.w * m.m3
         + b.x * m.m4 + b.y * m.m5 + b.z * m.m6 + b.w * m.m7;
}

// acc row i += Σ_c block[i][c] · m[c].
fn accumulate(acc: Acc, s: Block, m: Eight) -> Acc {
    return Acc(acc.r0 + combine(s.a0, s.b0, m), acc.r1 + combine(s.a1, s.b1, m),
               acc.r2 + combine(s.a2, s.b2, m), acc.r3 + combine(s.a3, s.b3, m),
               acc.r4 + combine(s.a4, s.b4, m), acc.r5 + combine(s.a5, s.b5, m),
               acc.r6 + combine(s.a6, s.b6, m), acc.r7 + combine(s.a7, s.b7, m));
}

fn add_acc(a: Acc, b: Acc) -> Acc {
    return Acc(a.r0 + b.r0, a.r1 + b.r1, a.r2 + b.r2, a.r3 + b.r3,
               a.r4 + b.r4, a.r5 + b.r5, a.r6 + b.r6, a.r7 + b.r7);
}

// Zero unless `inside`.
fn keep(v: vec4<f32>, inside: bool) -> vec4<f32> {
    return select(vec4<f32>(0.0), v, inside);
}

// Workgroup `group` of a grid of blocks_a × (workgroups of WORKGROUP_SIZE invocations
// over b):
// (block along a, invocation's index along b).
fn grid(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, blocks_a: u32) -> vec2<u32> {
    let group = workgroup_index(wid, nwg);
    return vec2<u32>(group % blocks_a, (group / blocks_a) * 64u + lid);
}

// ---- forward: y[n, o] = Σ_k x[n, k]·w[o, k] + b[o] ------------------------------------
// A workgroup shares 8 rows n; an invocation owns 4 outputs o of the weight chunk. Per
// step of 8 k: the 8×8 block of x is shared; the invocation loads its 4 weight rows.
// Here the accumulator rows are the 8 rows n and Eight's vectors hold the 4 outputs'
// weights at each k.

// The forward sums run over blocks of K4_BLOCK vec4 of k (256 inputs) that then join the
// running sums. fp32 rounding grows with the length of a sequential sum: fc6's single
// chain of 25 088 / 8 partial sums was 1.4× less accurate than PyTorch's fp32 GEMM on the
// same inputs (tests/kernels/long_sums.rs); with blocks no chain is longer than 98 adds.
// Even, so that a block ends on a step of 2 vec4.
const K4_BLOCK: u32 = 64u;

@group(0) @binding(1) var<storage, read> f_x: array<vec4<f32>>;      // (rows, K) piece
@group(0) @binding(2) var<storage, read> f_w: array<vec4<f32>>;      // (o_count, K) chunk
@group(0) @binding(3) var<storage, read> f_b: array<f32>;            // (O)
@group(0) @binding(4) var<storage, read_write> f_y: array<f32>;      // (rows, O) piece

// Weights of the 4 outputs whose rows start at vec4 index `w0..w3`, at the 8 k from the
// vec4 index `k4` (the second half zero past K).
fn weights_at(w0: u32, w1: u32, w2: u32, w3: u32, k4: u32, second: bool) -> Eight {
    let k4b = select(k4, k4 + 1u, second);
    let v0 = f_w[w0 + k4]; let v1 = f_w[w1 + k4]; let v2 = f_w[w2 + k4]; let v3 = f_w[w3 + k4];
    let u0 = keep(f_w[w0 + k4b], second); let u1 = keep(f_w[w1 + k4b], second);
    let u2 = keep(f_w[w2 + k4b], second); let u3 = keep(f_w[w3 + k4b], second);
    // m[c] = (w[o0][k + c], w[o1][k + c], w[o2][k + c], w[o3][k + c])
    return Eight(vec4<f32>(v0.x, v1.x, v2.x, v3.x), vec4<f32>(v0.y, v1.y, v2.y, v3.y),
                 vec4<f32>(v0.z, v1.z, v2.z, v3.z), vec4<f32>(v0.w, v1.w, v2.w, v3.w),
                 vec4<f32>(u0.x, u1.x, u2.x, u3.x), vec4<f32>(u0.y, u1.y, u2.y, u3.y),
                 vec4<f32>(u0.z, u1.z, u2.z, u3.z), vec4<f32>(u0.w, u1.w, u2.w, u3.w));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_forward_subgroup(@builtin(workgroup_id) wid: vec3<u32>,
                           @builtin(num_workgroups) nwg: vec3<u32>,
                           @builtin(local_invocation_index) lid: u32,
                           @builtin(subgroup_invocation_id) lane: u32) {
    let blocks_n = (p.rows + 7u) / 8u;
    let at = grid(wid, nwg, lid, blocks_n);
    let n0 = at.x * 8u;
    let tile = at.y; // 4 outputs each
    let o0 = tile * 4u;
    let k4_len = p.in_features / 4u;
    let last_o = p.o_count - 1u;
    let w0 = min(o0, last_o) * k4_len;
    let w1 = min(o0 + 1u, last_o) * k4_len;
    let w2 = min(o0 + 2u, last_o) * k4_len;
    let w3 = min(o0 + 3u, last_o) * k4_len;
    // This invocation's share of x: row n0 + l.
    let l = lane % 8u;
    let x_row = p.x_offset / 4u + min(n0 + l, p.rows - 1u) * k4_len;

    // Blocked sums: each block of K4_BLOCK vec4 of k adds up in `part` first.
    var acc = Acc();
    for (var b4 = 0u; b4 < k4_len; b4 += K4_BLOCK) {
        var part = Acc();
        for (var k4 = b4; k4 < min(b4 + K4_BLOCK, k4_len); k4 += 2u) {
            let second = k4 + 1u < k4_len;
            let s = share(f_x[x_row + k4], keep(f_x[x_row + select(k4, k4 + 1u, second)], second));
            part = accumulate(part, s, weights_at(w0, w1, w2, w3, k4, second));
        }
        acc = add_acc(acc, part);
    }

    if (o0 >= p.o_count) { return; }
    forward_store(n0, o0, acc.r0); forward_store(n0 + 1u, o0, acc.r1);
    forward_store(n0 + 2u, o0, acc.r2); forward_store(n0 + 3u, o0, acc.r3);
    forward_store(n0 + 4u, o0, acc.r4); forward_store(n0 + 5u, o0, acc.r5);
    forward_store(n0 + 6u, o0, acc.r6); forward_store(n0 + 7u, o0, acc.r7);
}

fn forward_store(n: u32, o0: u32, v: vec4<f32>) {
    if (n >= p.rows) { return; }
    let row = p.y_offset + n * p.out_features + p.o_begin;
    for (var j = 0u; j < 4u; j++) {
        if (o0 + j >= p.o_count) { return; }
        var y = v[j] + f_b[p.o_begin + o0 + j];
        if (p.relu != 0u) { y = max(y, 0.0); }
        f_y[row + o0 + j] = y;
    }
}

// ---- backward data: dx[n, k] (+)= Σ_{o in chunk} dy[n, o]·w[o, k] ----------------------
// A workgroup shares 8 rows n; an invocation owns 4 features k. Per step of 8 o: the
// 8×8 block of dy is shared; the invocation loads w[o, k..k+3] for the 8 o.

@group(0) @binding(1) var<storage, read> d_dy: array<vec4<f32>>;       // (rows, O) piece
@group(0) @binding(2) var<storage, read> d_w: array<vec4<f32>>;        // (o_count, K) chunk
@group(0) @binding(3) var<storage, read_write> d_dx: array<f32>;       // (rows, K) piece

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_backward_data_subgroup(@builtin(workgroup_id) wid: vec3<u32>,
                                 @builtin(num_workgroups) nwg: vec3<u32>,
                                 @builtin(local_invocation_index) lid: u32,
                                 @builtin(subgroup_invocation_id) lane: u32) {
    let blocks_n = (p.rows + 7u) / 8u;
    let at = grid(wid, nwg, lid, blocks_n);
    let n0 = at.x * 8u;
    let k4_len = p.in_features / 4u;
    let k4 = min(at.y, k4_len - 1u); // this invocation's 4 features, as a vec4 index
    let o4_len = p.o_count / 4u;
    let l = lane % 8u;
    let dy_row = (p.y_offset + p.o_begin) / 4u + min(n0 + l, p.rows - 1u) * (p.out_features / 4u);

    var acc = Acc();
    for (var o4 = 0u; o4 < o4_len; o4 += 2u) {
        let second = o4 + 1u < o4_len;
        let ob = select(o4, o4 + 1u, second);
        let s = share(d_dy[dy_row + o4], keep(d_dy[dy_row + ob], second));
        let o = o4 * 4u;
        let m = Eight(d_w[o * k4_len + k4], d_w[(o + 1u) * k4_len + k4],
                      d_w[(o + 2u) * k4_len + k4], d_w[(o + 3u) * k4_len + k4],
                      keep(d_w[(ob * 4u) * k4_len + k4], second),
                      keep(d_w[(ob * 4u + 1u) * k4_len + k4], second),
                      keep(d_w[(ob * 4u + 2u) * k4_len + k4], second),
                      keep(d_w[(ob * 4u + 3u) * k4_len + k4], second));
        acc = accumulate(acc, s, m);
    }

    if (at.y >= k4_len) { return; }
    data_store(n0, k4, acc.r0); data_store(n0 + 1u, k4, acc.r1);
    data_store(n0 + 2u, k4, acc.r2); data_store(n0 + 3u, k4, acc.r3);
    data_store(n0 + 4u, k4, acc.r4); data_store(n0 + 5u, k4, acc.r5);
    data_store(n0 + 6u, k4, acc.r6); data_store(n0 + 7u, k4, acc.r7);
}

fn data_store(n: u32, k4: u32, v: vec4<f32>) {
    if (n >= p.rows) { return; }
    let at = p.x_offset + n * p.in_features + k4 * 4u;
    var out = v;
    if (p.accumulate != 0u) {
        out += vec4<f32>(d_dx[at], d_dx[at + 1u], d_dx[at + 2u], d_dx[at + 3u]);
    }
    d_dx[at] = out.x;
    d_dx[at + 1u] = out.y;
    d_dx[at + 2u] = out.z;
    d_dx[at + 3u] = out.w;
}

// ---- backward weight: dw[o, k] (+)= Σ_{n in piece} dy[n, o]·x[n, k] ---------------------
// A workgroup shares 8 outputs o; an invocation owns 4 features k. Per step of 8 rows
// n: the 8×8 block dy[n, o] is shared (row i of the block: sample n0 + i); the
// invocation loads x[n, k..k+3] for the 8 n. The accumulator rows are the 8 outputs, so
// the shared block is used transposed: acc[o] += Σ_i dy[n0 + i, o] · x[n0 + i].

@group(0) @binding(1) var<storage, read> w_x: array<vec4<f32>>;        // (rows, K) piece
@group(0) @binding(2) var<storage, read> w_dy: array<vec4<f32>>;       // (rows, O) piece
@group(0) @binding(3) var<storage, read_write> w_dw: array<f32>;       // (o_count, K) chunk

// acc[o] += Σ_i s[i][o] · x[i].
fn accumulate_transposed(acc: Acc, s: Block, x: Eight) -> Acc {
    return Acc(acc.r0 + s.a0.x * x.m0 + s.a1.x * x.m1 + s.a2.x * x.m2 + s.a3.x * x.m3
                      + s.a4.x * x.m4 + s.a5.x * x.m5 + s.a6.x * x.m6 + s.a7.x * x.m7,
               acc.r1 + s.a0.y * x.m0 + s.a1.y * x.m1 + s.a2.y * x.m2 + s.a3.y * x.m3
                      + s.a4.y * x.m4 + s.a5.y * x.m5 + s.a6.y * x.m6 + s.a7.y * x.m7,
               acc.r2 + s.a0.z * x.m0 + s.a1.z * x.m1 + s.a2.z * x.m2 + s.a3.z * x.m3
                      + s.a4.z * x.m4 + s.a5.z * x.m5 + s.a6.z * x.m6 + s.a7.z * x.m7,
               acc.r3 + s.a0.w * x.m0 + s.a1.w * x.m1 + s.a2.w * x.m2 + s.a3.w * x.m3
                      + s.a4.w * x.m4 + s.a5.w * x.m5 + s.a6.w * x.m6 + s.a7.w * x.m7,
               acc.r4 + s.b0.x * x.m0 + s.b1.x * x.m1 + s.b2.x * x.m2 + s.b3.x * x.m3
                      + s.b4.x * x.m4 + s.b5.x * x.m5 + s.b6.x * x.m6 + s.b7.x * x.m7,
               acc.r5 + s.b0.y * x.m0 + s.b1.y * x.m1 + s.b2.y * x.m2 + s.b3.y * x.m3
                      + s.b4.y * x.m4 + s.b5.y * x.m5 + s.b6.y * x.m6 + s.b7.y * x.m7,
               acc.r6 + s.b0.z * x.m0 + s.b1.z * x.m1 + s.b2.z * x.m2 + s.b3.z * x.m3
                      + s.b4.z * x.m4 + s.b5.z * x.m5 + s.b6.z * x.m6 + s.b7.z * x.m7,
               acc.r7 + s.b0.w * x.m0 + s.b1.w * x.m1 + s.b2.w * x.m2 + s.b3.w * x.m3
                      + s.b4.w * x.m4 + s.b5.w * x.m5 + s.b6.w * x.m6 + s.b7.w * x.m7);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn linear_backward_weight_subgroup(@builtin(workgroup_id) wid: vec3<u32>,
                                   @builtin(num_workgroups) nwg: vec3<u32>,
                                   @builtin(local_invocation_index) lid: u32,
                                   @builtin(subgroup_invocation_id) lane: u32) {
    let blocks_o = (p.o_count + 7u) / 8u;
    let at = grid(wid, nwg, lid, blocks_o);
    let o0 = at.x * 8u; // local to the chunk
    let k4_len = p.in_features / 4u;
    let k4 = min(at.y, k4_len - 1u);
    let o4_len = p.out_features / 4u;
    let l = lane % 8u;
    // dy columns o0 .. o0 + 7 of the chunk as two vec4 (the second zero past o_count).
    let oa = (p.o_begin + o0) / 4u;
    let second_o = o0 + 4u < p.o_count;
    let ob = select(oa, oa + 1u, second_o);
    let x_base = p.x_offset / 4u + k4;
    let last_row = p.rows - 1u;

    var acc = Acc();
    for (var n0 = 0u; n0 < p.rows; n0 += 8u) {
        let mine = n0 + l;
        let dy_row = p.y_offset / 4u + min(mine, last_row) * o4_len;
        let s = share(keep(w_dy[dy_row + oa], mine <= last_row),
                      keep(w_dy[dy_row + ob], mine <= last_row && second_o));
        let x = Eight(keep(w_x[x_base + min(n0, last_row) * k4_len], n0 <= last_row),
                      keep(w_x[x_base + min(n0 + 1u, last_row) * k4_len], n0 + 1u <= last_row),
                      keep(w_x[x_base + min(n0 + 2u, last_row) * k4_len], n0 + 2u <= last_row),
                      keep(w_x[x_base + min(n0 + 3u, last_row) * k4_len], n0 + 3u <= last_row),
                      keep(w_x[x_base + min(n0 + 4u, last_row) * k4_len], n0 + 4u <= last_row),
                      keep(w_x[x_base + min(n0 + 5u, last_row) * k4_len], n0 + 5u <= last_row),
                      keep(w_x[x_base + min(n0 + 6u, last_row) * k4_len], n0 + 6u <= last_row),
                      keep(w_x[x_base + min(n0 + 7u, last_row) * k4_len], n0 + 7u <= last_row));
        acc = accumulate_transposed(acc, s, x);
    }

    if (at.y >= k4_len) { return; }
    weight_store(o0, k4, acc.r0); weight_store(o0 + 1u, k4, acc.r1);
    weight_store(o0 + 2u, k4, acc.r2); weight_store(o0 + 3u, k4, acc.r3);
    weight_store(o0 + 4u, k4, acc.r4); weight_store(o0 + 5u, k4, acc.r5);
    weight_store(o0 + 6u, k4, acc.r6); weight_store(o0 + 7u, k4, acc.r7);
}

fn weight_store(o: u32, k4: u32, v: vec4<f32>) {
    if (o >= p.o_count) { return; }
    let at = o * p.in_features + k4 * 4u;
    var out = v;
    if (p.accumulate != 0u) {
        out += vec4<f32>(w_dw[at], w_dw[at + 1u], w_dw[at + 2u], w_dw[at + 3u]);
    }
    w_dw[at] = out.x;
    w_dw[at + 1u] = out.y;
    w_dw[at + 2u] = out.z;
    w_dw[at + 3u] = out.w;
}
