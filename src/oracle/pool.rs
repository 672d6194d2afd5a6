//! Max-pool 2×2 stride 2 on the CPU. GPU: `shaders/maxpool2d.wgsl`, launchers:
//! `src/kernels/pool.rs`.

use crate::shape::PoolShape;

/// Index into x of the first maximum (row-major, strictly greater) of window (oh, ow)
/// of plane (n, c).
fn argmax(s: &PoolShape, x: &[f32], plane: usize, oh: usize, ow: usize) -> usize {
    let mut best = plane * s.in_h * s.in_w + 2 * oh * s.in_w + 2 * ow;
    for (dh, dw) in [(0, 1), (1, 0), (1, 1)] {
        let i = plane * s.in_h * s.in_w + (2 * oh + dh) * s.in_w + 2 * ow + dw;
        if x[i] > x[best] {
            best = i;
        }
    }
    best
}

/// y (N, C, H/2, W/2) = the maximum of each 2×2 window of x (N, C, H, W).
pub fn maxpool2d_forward(s: &PoolShape, x: &[f32]) -> Vec<f32> {
    let (oh_n, ow_n) = (s.out_h(), s.out_w());
    let mut y = Vec::with_capacity(s.batch * s.channels * oh_n * ow_n);
    for plane in 0..s.batch * s.channels {
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                y.push(x[argmax(s, x, plane, oh, ow)]);
            }
        }
    }
    y
}

/// dx (N, C, H, W): dy (N, C, H/2, W/2) at each window's first maximum, 0 elsewhere.
pub fn maxpool2d_backward(s: &PoolShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (oh_n, ow_n) = (s.out_h(), s.out_w());
    let mut dx = vec![0f32; x.len()];
    for plane in 0..s.batch * s.channels {
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                dx[argmax(s, x, plane, oh, ow)] = dy[(plane * oh_n + oh) * ow_n + ow];
            }
        }
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::gradcheck::{numeric_gradient, project, pseudo_random, relative_error};

    #[test]
    fn backward_matches_finite_differences() {
        // Odd sizes: the last row and column belong to no window.
        let s = PoolShape {
            batch: 2,
            channels: 3,
            in_h: 5,
            in_w: 7,
        };
        // Distinct values 0.05 apart, so that no ±eps probe changes a window's winner.
        let noise = pseudo_random(s.input().iter().product(), 1);
        let mut order: Vec<usize> = (0..noise.len()).collect();
        order.sort_by(|&a, &b| noise[a].total_cmp(&noise[b]));
        let mut x = vec![0f32; noise.len()];
        for (rank, &i) in order.iter().enumerate() {
            x[i] = rank as f32 * 0.05 - 5.0;
        }
        let r = pseudo_random(s.output().iter().product(), 2);
        let dx = maxpool2d_backward(&s, &x, &r);
        let numeric = numeric_gradient(&x, 1e-2, |x| project(&maxpool2d_forward(&s, x), &r));
        let analytic: Vec<f64> = dx.iter().map(|&g| g as f64).collect();
        let err = relative_error(&analytic, &numeric);
        assert!(err < 1e-4, "maxpool dx: relative error {err:e}");
    }

    #[test]
    fn ties_go_to_the_first_maximum_in_row_major_order() {
        let s = PoolShape {
            batch: 1,
            channels: 1,
            in_h: 2,
            in_w: 4,
        };
        // Window 0 is all equal; window 1 has its maximum twice, at positions 1 and 2.
        let x = [1.0, 1.0, 0.0, 3.0, 1.0, 1.0, 3.0, -1.0];
        assert_eq!(maxpool2d_forward(&s, &x), vec![1.0, 3.0]);
        assert_eq!(
            maxpool2d_backward(&s, &x, &[10.0, 20.0]),
            vec![10.0, 0.0, 0.0, 20.0, 0.0, 0.0, 0.0, 0.0]
        );
    }
}
