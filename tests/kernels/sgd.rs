use crate::harness::*;
use vgg_wgpu::kernels::sgd::sgd_step;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::SgdHyper;

/// An in-place SGD update is exact up to f32 rounding of a few operations.
const SGD_TOLERANCE: f64 = 1e-6;

/// The magnitudes of the terms behind one step's new (w, v) from state (w, v) and
/// gradient g: v = momentum·v + grad_scale·g + weight_decay·w, w = w − lr·v. A sum that
/// cancels is only as exact as its terms are large.
fn step_magnitudes(h: &SgdHyper, w: &[f32], g: &[f32], v: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let v_terms: Vec<f32> = (0..w.len())
        .map(|i| {
            (h.momentum * v[i]).abs() + (h.grad_scale * g[i]).abs() + (h.weight_decay * w[i]).abs()
        })
        .collect();
    let w_terms = (0..w.len())
        .map(|i| w[i].abs() + h.lr * v_terms[i])
        .collect();
    (w_terms, v_terms)
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
    let (w_terms, v_terms) = step_magnitudes(&first, &w, &g1, &v);
    oracle::sgd::sgd_step(&first, &mut w, &g1, &mut v);
    let name = format!("sgd {shape:?} step 1");
    check_scaled(
        &format!("{name} w"),
        &read(ctx, &wt),
        &w,
        &w_terms,
        SGD_TOLERANCE,
    );
    check_scaled(
        &format!("{name} v"),
        &read(ctx, &vt),
        &v,
        &v_terms,
        SGD_TOLERANCE,
    );

    // Step 2 starts from the oracle's state, so each step is judged on its own rounding.
    wt.write_f32(ctx, &w).unwrap();
    vt.write_f32(ctx, &v).unwrap();
    gt.write_f32(ctx, &g2).unwrap();
    step.set(ctx, &second);
    run(ctx, &step.launches);
    let (w_terms, v_terms) = step_magnitudes(&second, &w, &g2, &v);
    oracle::sgd::sgd_step(&second, &mut w, &g2, &mut v);
    let name = format!("sgd {shape:?} step 2");
    check_scaled(
        &format!("{name} w"),
        &read(ctx, &wt),
        &w,
        &w_terms,
        SGD_TOLERANCE,
    );
    check_scaled(
        &format!("{name} v"),
        &read(ctx, &vt),
        &v,
        &v_terms,
        SGD_TOLERANCE,
    );
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
