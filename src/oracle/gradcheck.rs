//! Central finite differences, to check the oracle's backward passes.

/// The numerical gradient of `loss` at `x`: (loss(x + eps·e_i) − loss(x − eps·e_i)) / 2eps.
pub fn numeric_gradient(x: &[f32], eps: f32, loss: impl Fn(&[f32]) -> f64) -> Vec<f64> {
    let mut probe = x.to_vec();
    (0..x.len())
        .map(|i| {
            probe[i] = x[i] + eps;
            let up = loss(&probe);
            probe[i] = x[i] - eps;
            let down = loss(&probe);
            probe[i] = x[i];
            (up - down) / (2.0 * (eps as f64))
        })
        .collect()
}

/// Σ projection_i · output_i, the scalar whose gradient w.r.t. the output is `projection`.
pub fn project(output: &[f32], projection: &[f32]) -> f64 {
    output
        .iter()
        .zip(projection)
        .map(|(&o, &p)| o as f64 * p as f64)
        .sum()
}

/// ‖a − b‖ / ‖b‖ (or ‖a‖ when b is all zero).
pub fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    if norm == 0.0 {
        diff
    } else {
        diff / norm
    }
}

/// `n` deterministic values in [-1, 1) (xorshift), for the oracles' unit tests.
pub fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}
