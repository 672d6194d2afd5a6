//! ReLU on the CPU. GPU: `shaders/relu.wgsl`, launchers: `src/kernels/relu.rs`.

/// y = max(x, 0), elementwise.
pub fn relu_forward(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| v.max(0.0)).collect()
}

/// dx = dy where the ReLU output y > 0, else 0.
pub fn relu_backward(y: &[f32], dy: &[f32]) -> Vec<f32> {
    y.iter()
        .zip(dy)
        .map(|(&y, &g)| if y > 0.0 { g } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::gradcheck::{numeric_gradient, project, pseudo_random, relative_error};

    #[test]
    fn backward_matches_finite_differences() {
        // Kept at least 0.1 away from the kink, so that no ±eps probe crosses it.
        let x: Vec<f32> = pseudo_random(60, 1)
            .into_iter()
            .map(|v| v.signum() * (0.1 + v.abs()))
            .collect();
        let r = pseudo_random(x.len(), 2);
        let dx = relu_backward(&relu_forward(&x), &r);
        let numeric = numeric_gradient(&x, 1e-2, |x| project(&relu_forward(x), &r));
        let analytic: Vec<f64> = dx.iter().map(|&g| g as f64).collect();
        let err = relative_error(&analytic, &numeric);
        assert!(err < 1e-4, "relu dx: relative error {err:e}");
    }
}
