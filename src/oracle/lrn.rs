//! Local response normalisation across channels on the CPU (AlexNet's formula, alpha
//! not divided by n; see [`LrnParams`]). GPU: `shaders/lrn.wgsl`, launchers:
//! `src/kernels/lrn.rs`.

use crate::shape::LrnParams;

/// Channels c − n/2 ..= c + n/2, clipped to 0..C.
fn window(lrn: &LrnParams, channels: usize, c: usize) -> std::ops::RangeInclusive<usize> {
    c.saturating_sub(lrn.half())..=(c + lrn.half()).min(channels - 1)
}

/// s (N, C, H, W): s_c = k + alpha · Σ_{c' ∈ window(c)} a_{c'}², in f64.
fn normaliser(shape: [usize; 4], lrn: &LrnParams, a: &[f64]) -> Vec<f64> {
    let [n_n, c_n, h, w] = shape;
    let plane = h * w;
    let mut s = vec![0f64; a.len()];
    for n in 0..n_n {
        for c in 0..c_n {
            for px in 0..plane {
                let sum: f64 = window(lrn, c_n, c)
                    .map(|j| a[(n * c_n + j) * plane + px].powi(2))
                    .sum();
                s[(n * c_n + c) * plane + px] = lrn.k as f64 + lrn.alpha as f64 * sum;
            }
        }
    }
    s
}

/// The forward pass in f64 (finite differences use it without f32 rounding).
fn forward_f64(shape: [usize; 4], lrn: &LrnParams, a: &[f64]) -> Vec<f64> {
    let s = normaliser(shape, lrn, a);
    a.iter()
        .zip(&s)
        .map(|(&a, &s)| a * s.powf(-lrn.beta as f64))
        .collect()
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// b (N, C, H, W) = a_c / (k + alpha · Σ_{c' ∈ window(c)} a_{c'}²)^beta, a (N, C, H, W).
pub fn lrn_forward(shape: [usize; 4], lrn: &LrnParams, a: &[f32]) -> Vec<f32> {
    forward_f64(shape, lrn, &to_f64(a))
        .into_iter()
        .map(|b| b as f32)
        .collect()
}

/// da (N, C, H, W) given a and db (N, C, H, W):
/// da_i = db_i · s_i^−beta − 2·alpha·beta · a_i · Σ_{j: i ∈ window(j)} db_j · b_j / s_j.
pub fn lrn_backward(shape: [usize; 4], lrn: &LrnParams, a: &[f32], db: &[f32]) -> Vec<f32> {
    let [n_n, c_n, h, w] = shape;
    let plane = h * w;
    let a = to_f64(a);
    let s = normaliser(shape, lrn, &a);
    let b = forward_f64(shape, lrn, &a);
    let (alpha, beta) = (lrn.alpha as f64, lrn.beta as f64);
    let mut da = vec![0f32; a.len()];
    for n in 0..n_n {
        for i in 0..c_n {
            for px in 0..plane {
                let at = |c: usize| (n * c_n + c) * plane + px;
                // The window relation is symmetric: i ∈ window(j) ⇔ j ∈ window(i).
                let cross: f64 = window(lrn, c_n, i)
                    .map(|j| db[at(j)] as f64 * b[at(j)] / s[at(j)])
                    .sum();
                let g =
                    db[at(i)] as f64 * s[at(i)].powf(-beta) - 2.0 * alpha * beta * a[at(i)] * cross;
                da[at(i)] = g as f32;
            }
        }
    }
    da
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::gradcheck::{numeric_gradient, pseudo_random, relative_error};

    fn check(shape: [usize; 4], lrn: &LrnParams) {
        let len = shape.iter().product();
        let a: Vec<f32> = pseudo_random(len, 1).iter().map(|v| 3.0 * v).collect();
        let r = pseudo_random(len, 2);
        let da = lrn_backward(shape, lrn, &a, &r);
        let numeric = numeric_gradient(&a, 1e-2, |a| {
            forward_f64(shape, lrn, &to_f64(a))
                .iter()
                .zip(&r)
                .map(|(&b, &r)| b * r as f64)
                .sum()
        });
        let err = relative_error(&to_f64(&da), &numeric);
        assert!(
            err < 1e-4,
            "lrn da {shape:?} {lrn:?}: relative error {err:e}"
        );
    }

    #[test]
    fn backward_matches_finite_differences() {
        // A large alpha, so that the cross-channel term matters.
        let strong = LrnParams {
            alpha: 0.1,
            ..LrnParams::default()
        };
        check([2, 7, 3, 2], &strong);
        check([1, 3, 2, 3], &LrnParams { size: 3, ..strong });
        check([2, 6, 2, 2], &LrnParams::default());
    }
}
