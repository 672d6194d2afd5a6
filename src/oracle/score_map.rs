//! Score-map reductions on the CPU. GPU: `shaders/score_map.wgsl`,
//! launchers: `src/kernels/score_map.rs`.
//!
//! Evaluation only: neither op has a backward pass.

use crate::shape::ScoreMapShape;

/// (N, classes, H, W) → (N, classes): the mean of each H×W plane, summed in f64.
pub fn spatial_mean(s: &ScoreMapShape, map: &[f32]) -> Vec<f32> {
    let plane = s.height * s.width;
    map.chunks(plane)
        .take(s.batch * s.classes)
        .map(|p| (p.iter().map(|&v| v as f64).sum::<f64>() / plane as f64) as f32)
        .collect()
}

/// (N, classes) → (N, classes): the softmax of each row, through its maximum, in f64.
pub fn softmax(classes: usize, scores: &[f32]) -> Vec<f32> {
    scores
        .chunks(classes)
        .flat_map(|row| {
            let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(move |v| (v / sum) as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spatial_mean_of_small_map() {
        let s = ScoreMapShape {
            batch: 1,
            classes: 2,
            height: 1,
            width: 3,
        };
        assert_eq!(
            spatial_mean(&s, &[1.0, 2.0, 6.0, -1.0, 0.0, 4.0]),
            [3.0, 1.0]
        );
    }

    #[test]
    fn softmax_rows_sum_to_one_and_survive_large_scores() {
        let p = softmax(3, &[1000.0, 1000.0, -1000.0, 0.0, 0.0, 0.0]);
        assert_eq!(&p[..3], &[0.5, 0.5, 0.0]);
        for v in &p[3..] {
            assert!((v - 1.0 / 3.0).abs() < 1e-7);
        }
        assert_eq!(softmax(1, &[-5.0, 7.0]), [1.0, 1.0]);
    }
}
