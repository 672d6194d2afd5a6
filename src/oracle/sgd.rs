//! SGD with momentum and weight decay on the CPU. GPU: `shaders/sgd.wgsl`, launcher:
//! `src/kernels/sgd.rs`.

use crate::shape::SgdHyper;

/// One in-place step, PyTorch's convention (dampening 0, no Nesterov):
/// g' = grad_scale·g + weight_decay·w; v = momentum·v + g'; w = w − lr·v.
/// w, g, v have the same length.
pub fn sgd_step(h: &SgdHyper, w: &mut [f32], g: &[f32], v: &mut [f32]) {
    for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
        let grad = h.grad_scale as f64 * g as f64 + h.weight_decay as f64 * *w as f64;
        let velocity = h.momentum as f64 * *v as f64 + grad;
        *v = velocity as f32;
        *w = (*w as f64 - h.lr as f64 * *v as f64) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_without_momentum_history_is_plain_sgd_with_decay() {
        let h = SgdHyper {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.5,
            grad_scale: 0.25,
        };
        let (mut w, g, mut v) = (vec![2.0f32], vec![4.0f32], vec![0.0f32]);
        sgd_step(&h, &mut w, &g, &mut v);
        // g' = 0.25·4 + 0.5·2 = 2; v = 2; w = 2 − 0.1·2 = 1.8
        assert!((v[0] - 2.0).abs() < 1e-6 && (w[0] - 1.8).abs() < 1e-6);
        sgd_step(&h, &mut w, &g, &mut v);
        // g' = 1 + 0.9 = 1.9; v = 0.9·2 + 1.9 = 3.7; w = 1.8 − 0.37 = 1.43
        assert!((v[0] - 3.7).abs() < 1e-6 && (w[0] - 1.43).abs() < 1e-6);
    }
}
