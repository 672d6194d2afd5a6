use crate::harness::*;
use vgg_wgpu::gpu::GpuContext;
use vgg_wgpu::kernels::sgd::{sgd_step, SgdHyper};
use vgg_wgpu::oracle;

/// Rounding errors per f32 operation allowed, in units of the magnitude of the terms
/// combined: each output is a sum of three (v) or two (w) rounded products, and FMA
/// contraction may or may not happen.
const ULPS_PER_TERM: f64 = 4.0 * f32::EPSILON as f64;

/// Per-element bounds for one step from state (w, v) with gradient g: a sum that
/// cancels is only as exact as its terms are large, so the bound scales with the
/// terms, not with the result (a norm-relative bound fails on a cancelling element).
fn step_bounds(h: &SgdHyper, w: &[f32], g: &[f32], v: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut new_w = w.to_vec();
    let mut new_v = v.to_vec();
    oracle::sgd::sgd_step(h, &mut new_w, g, &mut new_v);
    let (mut w_bound, mut v_bound) = (Vec::new(), Vec::new());
    for i in 0..w.len() {
        let v_terms = (h.grad_scale * g[i]).abs() as f64
            + (h.weight_decay * w[i]).abs() as f64
            + (h.momentum * v[i]).abs() as f64;
        let dv = ULPS_PER_TERM * v_terms;
        let w_terms = w[i].abs() as f64 + (h.lr * new_v[i]).abs() as f64;
        v_bound.push(dv);
        w_bound.push(ULPS_PER_TERM * w_terms + h.lr as f64 * dv);
    }
    (w_bound, v_bound)
}

/// Two steps with different hyper-parameters through the same launches: only the
/// uniform buffer changes between them.
fn check_two_steps(ctx: &GpuContext, shape: &[usize], seed_name: &str) {
    let mut rng = rng(seed_name);
    let n: usize = shape.iter().product();
    let mut w = random(&mut rng, n);
    let g1 = random(&mut rng, n);
    let g2 = random(&mut rng, n);
    let mut v = random(&mut rng, n);
    let (wt, gt, vt) = (
        upload(ctx, "w", shape, &w),
        upload(ctx, "g", shape, &g1),
        upload(ctx, "v", shape, &v),
    );
    let first = SgdHyper {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        grad_scale: 1.0,
    };
    let second = SgdHyper {
        lr: 0.1,
        momentum: 0.5,
        weight_decay: 0.05,
        grad_scale: 0.25,
    };
    let step = sgd_step(ctx, &first, &wt, &gt, &vt).unwrap();

    run(ctx, &step.launches);
    let (w_bound, v_bound) = step_bounds(&first, &w, &g1, &v);
    oracle::sgd::sgd_step(&first, &mut w, &g1, &mut v);
    let name = format!("sgd {shape:?} step 1");
    check_within(&format!("{name} w"), &read(ctx, &wt), &w, &w_bound);
    check_within(&format!("{name} v"), &read(ctx, &vt), &v, &v_bound);

    // Step 2 starts from the oracle's state, so each step is judged on its own rounding.
    wt.write_f32(ctx, &w).unwrap();
    vt.write_f32(ctx, &v).unwrap();
    gt.write_f32(ctx, &g2).unwrap();
    step.set(ctx, &second);
    run(ctx, &step.launches);
    let (w_bound, v_bound) = step_bounds(&second, &w, &g2, &v);
    oracle::sgd::sgd_step(&second, &mut w, &g2, &mut v);
    let name = format!("sgd {shape:?} step 2");
    check_within(&format!("{name} w"), &read(ctx, &wt), &w, &w_bound);
    check_within(&format!("{name} v"), &read(ctx, &vt), &v, &v_bound);
}

#[test]
fn sgd_matches_oracle() {
    for shape in [&[67usize, 3, 3, 3][..], &[29, 37], &[1], &[130]] {
        check_two_steps(gpu(), shape, "sgd");
    }
}

#[test]
fn sgd_with_chunked_tensors_matches_oracle() {
    // 256-byte chunks: a (23, 13) tensor (52 B a row) splits every 4 rows into 6 chunks.
    let ctx = gpu_with_binding_limit(256);
    let probe = vgg_wgpu::gpu::Tensor::zeros(&ctx, "probe", &[23, 13]).unwrap();
    assert_eq!(probe.chunks.len(), 6);
    check_two_steps(&ctx, &[23, 13], "sgd chunked");
}
