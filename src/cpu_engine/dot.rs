//! out (P × O) = rows (P × K) · weight (O × K)ᵀ + bias, on the CPU: fully connected
//! layers, and every convolution that is not 3×3 with padding 1 run on its windows' rows
//! (dense evaluation's FC layers, config C's 1×1 convolutions). Both operands are read
//! along K as they lie in memory, so a weight matrix (FC1's is 411 MB) is never copied.
//! Each output is summed in 4 lanes (k ≡ lane mod 4), in blocks of [`K_BLOCK`] terms a
//! lane added into a running total, and the lanes are added pairwise at the end.

use super::Pause;

/// Outputs (weight rows) per block of sums.
const RO: usize = 4;
/// Input rows per block of sums.
const RP: usize = 2;
/// Terms per lane in each partial sum.
const K_BLOCK: usize = 64;

/// [`dot_rows`] on `outputs_per_chunk` weight rows at a time, with a pause after each
/// (FC1 of VGG-16 on 18 rows of windows is 1.8 G multiply-adds).
pub async fn dot_rows_in_chunks(
    rows: &[f32],
    weight: &[f32],
    bias: &[f32],
    relu: bool,
    out: &mut [f32],
    outputs_per_chunk: usize,
    pause: &mut impl Pause,
) {
    let o_count = bias.len();
    let k = weight.len() / o_count.max(1);
    let row_count = rows.len() / k.max(1);
    let mut part = Vec::new();
    for o0 in (0..o_count).step_by(outputs_per_chunk.max(1)) {
        let o1 = (o0 + outputs_per_chunk.max(1)).min(o_count);
        part.resize(row_count * (o1 - o0), 0.0);
        dot_rows(
            rows,
            &weight[o0 * k..o1 * k],
            &bias[o0..o1],
            relu,
            &mut part,
        );
        for (r, values) in part.chunks(o1 - o0).enumerate() {
            out[r * o_count + o0..][..o1 - o0].copy_from_slice(values);
        }
        pause.pause().await;
    }
}

/// out (P × O) = rows (P × K) · weight (O × K)ᵀ + bias, then max(0, ·) when `relu`.
pub fn dot_rows(rows: &[f32], weight: &[f32], bias: &[f32], relu: bool, out: &mut [f32]) {
    let (o_count, k) = (bias.len(), weight.len() / bias.len().max(1));
    let p_count = rows.len() / k.max(1);
    assert!(weight.len() == o_count * k && rows.len() == p_count * k);
    assert!(out.len() == p_count * o_count);
    let at = |p: usize, o: usize| p * o_count + o;
    let mut store = |p: usize, o: usize, sums: &[f32], count: usize| {
        for (i, sum) in sums.chunks(count).enumerate() {
            for (j, v) in sum.iter().enumerate() {
                let v = v + bias[o + i];
                out[at(p + j, o + i)] = if relu { v.max(0.0) } else { v };
            }
        }
    };
    // Blocks of RP rows × RO outputs, then what is left one by one.
    let (whole_p, whole_o) = (p_count / RP * RP, o_count / RO * RO);
    for p in 0..p_count {
        let rp = if p < whole_p { RP } else { 1 };
        if p % rp != 0 {
            continue;
        }
        let x = &rows[p * k..(p + rp) * k];
        for o in (0..whole_o).step_by(RO) {
            let w = &weight[o * k..(o + RO) * k];
            match rp {
                RP => store(p, o, block_sums::<RO, RP>(w, x, k).as_flattened(), RP),
                _ => store(p, o, block_sums::<RO, 1>(w, x, k).as_flattened(), 1),
            }
        }
        for o in whole_o..o_count {
            let w = &weight[o * k..(o + 1) * k];
            match rp {
                RP => store(p, o, block_sums::<1, RP>(w, x, k).as_flattened(), RP),
                _ => store(p, o, block_sums::<1, 1>(w, x, k).as_flattened(), 1),
            }
        }
    }
}

/// Σ_k w[i][k] · x[j][k] for A weight rows and B input rows of length k.
#[inline(always)]
fn block_sums<const A: usize, const B: usize>(w: &[f32], x: &[f32], k: usize) -> [[f32; B]; A] {
    let w: [&[f32]; A] = std::array::from_fn(|i| &w[i * k..][..k]);
    let x: [&[f32]; B] = std::array::from_fn(|j| &x[j * k..][..k]);
    let mut total = [[[0f32; 4]; B]; A];
    let whole = k / 4 * 4;
    for k0 in (0..whole).step_by(4 * K_BLOCK) {
        let k1 = (k0 + 4 * K_BLOCK).min(whole);
        let mut part = [[[0f32; 4]; B]; A];
        for q in (k0..k1).step_by(4) {
            let wv: [[f32; 4]; A] = std::array::from_fn(|i| w[i][q..q + 4].try_into().expect("4"));
            for j in 0..B {
                let xv: [f32; 4] = x[j][q..q + 4].try_into().expect("4");
                for i in 0..A {
                    for l in 0..4 {
                        part[i][j][l] += wv[i][l] * xv[l];
                    }
                }
            }
        }
        for i in 0..A {
            for j in 0..B {
                for l in 0..4 {
                    total[i][j][l] += part[i][j][l];
                }
            }
        }
    }
    std::array::from_fn(|i| {
        std::array::from_fn(|j| {
            let t = total[i][j];
            let tail: f32 = (whole..k).map(|q| w[i][q] * x[j][q]).sum();
            (t[0] + t[2]) + (t[1] + t[3]) + tail
        })
    })
}
