use crate::harness::*;
use vgg_wgpu::gpu::GpuContext;
use vgg_wgpu::kernels::sgd::{sgd_step, SgdHyper};
use vgg_wgpu::oracle;

/// An in-place SGD update is exact up to f32 rounding of a few operations.
const SGD_TOLERANCE: f64 = 1e-6;

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
    oracle::sgd::sgd_step(&first, &mut w, &g1, &mut v);
    check(
        &format!("sgd {shape:?} step 1 w"),
        &read(ctx, &wt),
        &w,
        SGD_TOLERANCE,
    );
    check(
        &format!("sgd {shape:?} step 1 v"),
        &read(ctx, &vt),
        &v,
        SGD_TOLERANCE,
    );

    gt.write_f32(ctx, &g2).unwrap();
    step.set(ctx, &second);
    run(ctx, &step.launches);
    oracle::sgd::sgd_step(&second, &mut w, &g2, &mut v);
    check(
        &format!("sgd {shape:?} step 2 w"),
        &read(ctx, &wt),
        &w,
        SGD_TOLERANCE,
    );
    check(
        &format!("sgd {shape:?} step 2 v"),
        &read(ctx, &vt),
        &v,
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
