//! How far values stay from the points where ReLU and max-pool switch branch, in units
//! of the values' RMS. fp32 rounding moves values by about 1e-7 of that scale; where the
//! margin is far above it the GPU and the oracle take the same branches, so their
//! gradients agree to rounding, while one flipped branch changes a gradient by a term.

use crate::shape::PoolShape;

/// The smallest |pre-activation| `z` of a ReLU, relative to the RMS of `z`.
pub fn relu_margin(z: &[f32]) -> f64 {
    let smallest = z
        .iter()
        .map(|v| v.abs() as f64)
        .fold(f64::INFINITY, f64::min);
    smallest / rms(z)
}

/// The smallest gap between the largest and second-largest values of any 2×2 window of
/// `x` whose two largest values differ, relative to the RMS of `x` (exact ties, such as
/// zeros after a ReLU, are excluded: both sides send them to the first maximum).
pub fn maxpool_margin(s: &PoolShape, x: &[f32]) -> f64 {
    let mut gap = f64::INFINITY;
    for plane in 0..s.batch * s.channels {
        for oh in 0..s.out_h() {
            for ow in 0..s.out_w() {
                let mut window: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(dh, dw)| {
                        x[plane * s.in_h * s.in_w + (2 * oh + dh) * s.in_w + 2 * ow + dw]
                    })
                    .collect();
                window.sort_by(|a, b| b.total_cmp(a));
                if window[0] != window[1] {
                    gap = gap.min((window[0] - window[1]) as f64);
                }
            }
        }
    }
    gap / rms(x)
}

fn rms(values: &[f32]) -> f64 {
    let sum: f64 = values.iter().map(|&v| (v as f64).powi(2)).sum();
    (sum / values.len().max(1) as f64)
        .sqrt()
        .max(f64::MIN_POSITIVE)
}
