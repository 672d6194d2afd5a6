use crate::harness::*;
use rand::Rng;
use vgg_wgpu::gpu::Tensor;
use vgg_wgpu::kernels::lrn::{lrn_backward, lrn_forward};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::LrnParams;

/// Batch 1 and > 1, 3 (fewer than n) and ≥ 64 channels, odd and 1×1 spatial.
const SHAPES: &[[usize; 4]] = &[[1, 3, 5, 7], [2, 64, 3, 3], [3, 6, 1, 1], [2, 9, 4, 5]];

/// The default (AlexNet) parameters, and a large alpha under which the cross-channel
/// term really matters (with inputs in [-3, 3]).
fn params() -> [LrnParams; 3] {
    let strong = LrnParams {
        alpha: 0.1,
        ..LrnParams::default()
    };
    [
        LrnParams::default(),
        strong,
        LrnParams { size: 3, ..strong },
    ]
}

fn check_lrn(ctx: &GpuContext, lrn: &LrnParams, shape: [usize; 4], seed_name: &str) {
    let mut rng = rng(seed_name);
    let len = shape.iter().product();
    let a: Vec<f32> = (0..len).map(|_| rng.random_range(-3.0f32..3.0)).collect();
    let db = random(&mut rng, len);
    let at = upload(ctx, "a", &shape, &a);
    let dbt = upload(ctx, "db", &shape, &db);
    let bt = poisoned(ctx, "b", &shape);
    let dat = poisoned(ctx, "da", &shape);
    run(ctx, &lrn_forward(ctx, lrn, &at, &bt).unwrap());
    run(ctx, &lrn_backward(ctx, lrn, &at, &dbt, &dat).unwrap());
    let name = format!("{shape:?} {lrn:?}");
    check(
        &format!("lrn forward {name}"),
        &read(ctx, &bt),
        &oracle::lrn::lrn_forward(shape, lrn, &a),
        FORWARD_TOLERANCE,
    );
    check(
        &format!("lrn backward {name}"),
        &read(ctx, &dat),
        &oracle::lrn::lrn_backward(shape, lrn, &a, &db),
        BACKWARD_TOLERANCE,
    );
}

#[test]
fn lrn_matches_oracle() {
    for lrn in params() {
        for shape in SHAPES {
            check_lrn(gpu(), &lrn, *shape, "lrn");
        }
    }
}

#[test]
fn lrn_with_chunked_tensors_matches_oracle() {
    // 900 B chunks: samples of 420 B go 2 to a chunk (2 + 2 + 2).
    let ctx = gpu_with_binding_limit(900);
    let shape = [6, 7, 3, 5];
    assert!(Tensor::zeros(&ctx, "a", &shape).unwrap().chunks.len() > 1);
    for lrn in params() {
        check_lrn(&ctx, &lrn, shape, "lrn chunked");
    }
}

#[test]
fn lrn_rejects_bad_parameters_and_shapes() {
    let ctx = gpu();
    let t = Tensor::zeros(ctx, "a", &[2, 3, 2, 2]).unwrap();
    let even = LrnParams {
        size: 4,
        ..LrnParams::default()
    };
    assert!(lrn_forward(ctx, &even, &t, &t).is_err());
    let flat = Tensor::zeros(ctx, "fc", &[2, 12]).unwrap();
    assert!(lrn_forward(ctx, &LrnParams::default(), &flat, &flat).is_err());
    let other = Tensor::zeros(ctx, "b", &[2, 3, 2, 1]).unwrap();
    assert!(lrn_backward(ctx, &LrnParams::default(), &t, &t, &other).is_err());
}
