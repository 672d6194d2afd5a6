//! Fully connected layer on the CPU. GPU: `shaders/linear.wgsl`, launchers:
//! `src/kernels/linear.rs`.

use crate::shape::LinearShape;

/// y (N, O) = x (N, K) · weight (O, K)ᵀ + bias (O), then ReLU if `relu`.
pub fn linear_forward(
    s: &LinearShape,
    relu: bool,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
) -> Vec<f32> {
    let (k_len, o_len) = (s.in_features, s.out_features);
    let mut y = vec![0f32; s.batch * o_len];
    for n in 0..s.batch {
        for o in 0..o_len {
            let mut acc = bias[o] as f64;
            for k in 0..k_len {
                acc += x[n * k_len + k] as f64 * weight[o * k_len + k] as f64;
            }
            if relu {
                acc = acc.max(0.0);
            }
            y[n * o_len + o] = acc as f32;
        }
    }
    y
}

/// Gradients of a fully connected layer (before any ReLU) given dy (N, O).
pub struct LinearGradients {
    /// (N, K)
    pub dx: Vec<f32>,
    /// (O, K)
    pub dweight: Vec<f32>,
    /// (O)
    pub dbias: Vec<f32>,
}

pub fn linear_backward(s: &LinearShape, x: &[f32], weight: &[f32], dy: &[f32]) -> LinearGradients {
    let (k_len, o_len) = (s.in_features, s.out_features);
    let mut dx = vec![0f64; s.batch * k_len];
    let mut dweight = vec![0f64; o_len * k_len];
    let mut dbias = vec![0f64; o_len];
    for n in 0..s.batch {
        for o in 0..o_len {
            let g = dy[n * o_len + o] as f64;
            dbias[o] += g;
            for k in 0..k_len {
                dx[n * k_len + k] += g * weight[o * k_len + k] as f64;
                dweight[o * k_len + k] += g * x[n * k_len + k] as f64;
            }
        }
    }
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|g| g as f32).collect();
    LinearGradients {
        dx: to_f32(dx),
        dweight: to_f32(dweight),
        dbias: to_f32(dbias),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::gradcheck::{numeric_gradient, project, pseudo_random, relative_error};

    #[test]
    fn backward_matches_finite_differences() {
        let s = LinearShape {
            batch: 3,
            in_features: 7,
            out_features: 5,
        };
        let x = pseudo_random(s.batch * s.in_features, 1);
        let w = pseudo_random(s.out_features * s.in_features, 2);
        let b = pseudo_random(s.out_features, 3);
        let r = pseudo_random(s.batch * s.out_features, 4);
        let grads = linear_backward(&s, &x, &w, &r);
        let as_f64 = |v: &[f32]| v.iter().map(|&g| g as f64).collect::<Vec<_>>();

        let num_dx = numeric_gradient(&x, 1e-2, |x| {
            project(&linear_forward(&s, false, x, &w, &b), &r)
        });
        let num_dw = numeric_gradient(&w, 1e-2, |w| {
            project(&linear_forward(&s, false, &x, w, &b), &r)
        });
        let num_db = numeric_gradient(&b, 1e-2, |b| {
            project(&linear_forward(&s, false, &x, &w, b), &r)
        });
        for (name, analytic, numeric) in [
            ("dx", &grads.dx, num_dx),
            ("dweight", &grads.dweight, num_dw),
            ("dbias", &grads.dbias, num_db),
        ] {
            let err = relative_error(&as_f64(analytic), &numeric);
            assert!(
                err < 1e-4,
                "linear {name}: relative error {err:e} against finite differences"
            );
        }
    }
}
