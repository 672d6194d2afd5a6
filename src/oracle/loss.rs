//! Softmax cross-entropy on the CPU. GPU: `shaders/softmax_cross_entropy.wgsl`,
//! launchers: `src/kernels/loss.rs`.

use crate::shape::{LossShape, STATS};

/// What the loss kernels write.
pub struct LossResult {
    /// (N, 3): [loss, top-1 hit, top-5 hit] of each sample
    pub stats: Vec<f32>,
    /// (N, classes): (softmax − onehot) · grad_scale
    pub dlogits: Vec<f32>,
    /// (3): [Σ loss, top-1 hits, top-5 hits]
    pub totals: Vec<f32>,
}

/// Position of the label's logit when the row is sorted by decreasing value, ties
/// broken by class index: #{j : l_j > l_label} + #{j < label : l_j = l_label}.
pub fn label_rank(row: &[f32], label: usize) -> usize {
    let picked = row[label];
    row.iter()
        .enumerate()
        .filter(|&(j, &v)| v > picked || (v == picked && j < label))
        .count()
}

/// −log softmax(row)[label] in f64, through the row maximum (log-sum-exp).
pub fn sample_loss(row: &[f32], label: usize) -> f64 {
    let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
    s.ln() - (row[label] as f64 - m)
}

/// Σ_n loss_n · grad_scale: the scalar whose gradient `dlogits` is.
pub fn scaled_loss_sum(s: &LossShape, grad_scale: f32, logits: &[f32], labels: &[u32]) -> f64 {
    logits
        .chunks(s.classes)
        .zip(labels)
        .map(|(row, &label)| sample_loss(row, label as usize) * grad_scale as f64)
        .sum()
}

/// Loss, gradient and hits of logits (N, classes) against labels (N). A label ≥ classes
/// gives a NaN loss and dlogits row and counts as a miss, as on the GPU; a row with a
/// non-finite logit counts as a miss too.
pub fn softmax_cross_entropy(
    s: &LossShape,
    grad_scale: f32,
    logits: &[f32],
    labels: &[u32],
) -> LossResult {
    let mut stats = vec![0f32; s.batch * STATS];
    let mut dlogits = vec![0f32; s.batch * s.classes];
    let mut totals = [0f64; STATS];
    for (n, (row, &label)) in logits.chunks(s.classes).zip(labels).enumerate() {
        let label = label as usize;
        let grad = &mut dlogits[n * s.classes..(n + 1) * s.classes];
        let (loss, hit1, hit5) = if label < s.classes {
            let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let sum: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
            for (j, (g, &v)) in grad.iter_mut().zip(row).enumerate() {
                let onehot = if j == label { 1.0 } else { 0.0 };
                *g = (((v as f64 - m).exp() / sum - onehot) * grad_scale as f64) as f32;
            }
            // A non-finite logit makes the ranking meaningless: a miss, as on the GPU.
            let rank = match row.iter().all(|v| v.is_finite()) {
                true => label_rank(row, label),
                false => usize::MAX,
            };
            (
                sample_loss(row, label),
                (rank < 1) as u32 as f64,
                (rank < 5) as u32 as f64,
            )
        } else {
            grad.fill(f32::NAN);
            (f64::NAN, 0.0, 0.0)
        };
        for (i, v) in [loss, hit1, hit5].into_iter().enumerate() {
            stats[n * STATS + i] = v as f32;
            totals[i] += v;
        }
    }
    LossResult {
        stats,
        dlogits,
        totals: totals.iter().map(|&t| t as f32).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::gradcheck::{numeric_gradient, pseudo_random, relative_error};

    #[test]
    fn backward_matches_finite_differences() {
        for (batch, classes) in [(3, 7), (2, 1), (4, 12)] {
            let s = LossShape { batch, classes };
            let logits: Vec<f32> = pseudo_random(batch * classes, classes as u64)
                .iter()
                .map(|v| v * 3.0)
                .collect();
            let labels: Vec<u32> = (0..batch).map(|n| ((n * 5) % classes) as u32).collect();
            let grad_scale = 1.0 / 8.0;
            let analytic = softmax_cross_entropy(&s, grad_scale, &logits, &labels).dlogits;
            let numeric = numeric_gradient(&logits, 1e-2, |l| {
                scaled_loss_sum(&s, grad_scale, l, &labels)
            });
            let as_f64: Vec<f64> = analytic.iter().map(|&g| g as f64).collect();
            let err = relative_error(&as_f64, &numeric);
            println!("loss dlogits {s:?}: relative error {err:.3e} against finite differences");
            assert!(
                err < 1e-4,
                "loss dlogits {s:?}: relative error {err:e} against finite differences"
            );
        }
    }

    #[test]
    fn hits_follow_rank_with_ties_broken_by_class_index() {
        // label 2 ties with class 0 (earlier: counts) and class 4 (later: does not).
        let row = [0.5, 0.1, 0.5, 0.9, 0.5, -1.0];
        assert_eq!(label_rank(&row, 2), 2);
        assert_eq!(label_rank(&row, 0), 1);
        assert_eq!(label_rank(&row, 3), 0);
        let s = LossShape {
            batch: 1,
            classes: 6,
        };
        let r = softmax_cross_entropy(&s, 1.0, &row, &[2]);
        assert_eq!(&r.stats[1..], &[0.0, 1.0]);
    }

    #[test]
    fn large_logits_stay_finite_and_bad_labels_are_nan() {
        let s = LossShape {
            batch: 2,
            classes: 3,
        };
        let r = softmax_cross_entropy(&s, 1.0, &[1000.0, -1000.0, 999.0, 0.0, 1.0, 2.0], &[2, 3]);
        assert!((r.stats[0] as f64 - (1.0 + (-1.0f64).exp()).ln() - 1.0).abs() < 1e-6);
        assert!(r.stats[3].is_nan() && r.stats[4] == 0.0 && r.stats[5] == 0.0);
        assert!(r.dlogits[3..].iter().all(|g| g.is_nan()));
        assert!(r.totals[0].is_nan());
    }
}
