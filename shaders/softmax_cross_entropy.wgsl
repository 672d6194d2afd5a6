// Softmax cross-entropy: loss, its gradient and top-1/top-5 hits in one pass per sample,
// then a deterministic sum of the per-sample results.
//
//   logits (N, classes) f32   labels (N) u32   dlogits (N, classes) f32
//   stats (N, 3) f32 = [loss, top-1 hit, top-5 hit] per sample   totals (3) f32
//
// softmax_cross_entropy: one invocation per sample, three passes over its row.
//   m = max_j l_j,  s = Σ_j exp(l_j − m),  loss = log s − (l_label − m)
//   dlogits_j = (exp(l_j − m) / s − [j = label]) · grad_scale
//   rank = #{j : l_j > l_label} + #{j < label : l_j = l_label}; hit1 = rank < 1, hit5 = rank < 5
// A row holding a NaN or infinite logit is a miss for top-1 and top-5: NaN compares
// false with everything, so its rank would stay 0 and count as a hit.
// A label ≥ classes has no defined loss: its loss and its whole dlogits row are NaN and
// it counts as a miss, so a bad label shows in the totals instead of training silently.
// The tensors may be chunks along N: each dispatch covers one row piece, found at the
// given element offsets inside the bound chunks.
//
// sum_loss_stats: three invocations, one per column of stats, each summing the rows of
// one stats chunk in a fixed order (blocks of 64 rows, then the block sums). The first
// chunk writes totals, later ones (accumulate = 1) add to them: deterministic, no atomics.

struct LossParams {
    rows: u32, classes: u32, grad_scale: f32, _pad0: u32,
    // element offsets of this piece's first sample inside the bound chunks
    logits_offset: u32, labels_offset: u32, dlogits_offset: u32, stats_offset: u32,
}

@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_cross_entropy(@builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let n = flat_index(wid, nwg, lid);
    if (n >= p.rows) { return; }

    let row = p.logits_offset + n * p.classes;
    let drow = p.dlogits_offset + n * p.classes;
    let label = labels[p.labels_offset + n];
    let valid = label < p.classes;
    let picked = logits[row + min(label, p.classes - 1u)];

    var m = logits[row];
    var rank = 0u;
    var finite = true;
    for (var j = 0u; j < p.classes; j++) {
        let v = logits[row + j];
        m = max(m, v);
        if (v > picked || (v == picked && j < label)) { rank++; }
        // On the bits: a compiler may assume floats are finite and fold `v != v` away.
        finite = finite && (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
    }

    var s = 0.0;
    for (var j = 0u; j < p.classes; j++) {
        s += exp(logits[row + j] - m);
    }
    let inv_s = 1.0 / s;

    // A run-time NaN (a constant one would be rejected by the shader compiler).
    var nan_bits = 0x7fc00000u;
    let nan = bitcast<f32>(nan_bits);

    for (var j = 0u; j < p.classes; j++) {
        let prob = exp(logits[row + j] - m) * inv_s;
        var g = (prob - select(0.0, 1.0, j == label)) * p.grad_scale;
        if (!valid) { g = nan; }
        dlogits[drow + j] = g;
    }

    let srow = p.stats_offset + n * 3u;
    stats[srow] = select(nan, log(s) - (picked - m), valid);
    let countable = valid && finite;
    stats[srow + 1u] = select(0.0, 1.0, countable && rank < 1u);
    stats[srow + 2u] = select(0.0, 1.0, countable && rank < 5u);
}

struct SumParams {
    rows: u32, stats_offset: u32, accumulate: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> q: SumParams;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> totals: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_loss_stats(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let column = flat_index(wid, nwg, lid);
    if (column >= 3u) { return; }

    // Blocks of 64 keep the rounding error of an f32 sum over thousands of rows small.
    var total = 0.0;
    for (var b = 0u; b < q.rows; b += 64u) {
        var block = 0.0;
        let end = min(b + 64u, q.rows);
        for (var r = b; r < end; r++) {
            block += part[q.stats_offset + r * 3u + column];
        }
        total += block;
    }
    if (q.accumulate != 0u) { total = totals[column] + total; }
    totals[column] = total;
}
