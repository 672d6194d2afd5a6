use crate::harness::*;
use vgg_wgpu::kernels::pool::{maxpool2d_backward, maxpool2d_forward};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::PoolShape;

const fn shape(batch: usize, channels: usize, in_h: usize, in_w: usize) -> PoolShape {
    PoolShape {
        batch,
        channels,
        in_h,
        in_w,
    }
}

/// Batch 1 and > 1, 3 and ≥ 64 channels, odd sizes (the last row / column is in no
/// window), the smallest legal inputs (2×2 and 3×3, both pooling to 1×1).
const SHAPES: &[PoolShape] = &[
    shape(1, 3, 9, 7),
    shape(2, 64, 6, 5),
    shape(3, 5, 2, 2),
    shape(2, 4, 3, 3),
    shape(1, 66, 8, 10),
    shape(2, 3, 4, 11),
];

/// Inputs with many ties: ReLU outputs (windows of zeros) rounded to one decimal, as
/// after a fused ReLU. Ties must go to the first maximum in row-major order.
fn tied(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .map(|v| (v.max(0.0) * 10.0).round() / 10.0)
        .collect()
}

/// Forward and backward of `s` against the oracle; pooling only selects, so the
/// results must be exactly the oracle's.
fn check_pool(ctx: &GpuContext, s: &PoolShape, with_ties: bool, seed_name: &str) {
    let mut rng = rng(seed_name);
    let mut x = random(&mut rng, s.input().iter().product());
    if with_ties {
        x = tied(&x);
    }
    let dy = random(&mut rng, s.output().iter().product());
    let xt = upload(ctx, "x", &s.input(), &x);
    let dyt = upload(ctx, "dy", &s.output(), &dy);
    let yt = poisoned(ctx, "y", &s.output());
    let dxt = poisoned(ctx, "dx", &s.input());
    run(ctx, &maxpool2d_forward(ctx, s, &xt, &yt).unwrap());
    run(
        ctx,
        &maxpool2d_backward(ctx, s, &xt, &dyt, &dxt, false).unwrap(),
    );

    let name = format!("{s:?} ties={with_ties}");
    let (y, dx) = (read(ctx, &yt), read(ctx, &dxt));
    let expected_y = oracle::pool::maxpool2d_forward(s, &x);
    let expected_dx = oracle::pool::maxpool2d_backward(s, &x, &dy);
    check(
        &format!("maxpool2d forward {name}"),
        &y,
        &expected_y,
        FORWARD_TOLERANCE,
    );
    check(
        &format!("maxpool2d backward {name}"),
        &dx,
        &expected_dx,
        BACKWARD_TOLERANCE,
    );
    assert_eq!(y, expected_y, "maxpool2d forward {name}: not exact");
    assert_eq!(dx, expected_dx, "maxpool2d backward {name}: not exact");

    // Through the ReLU that produced x: the oracle's ReLU backward after its pool
    // backward, exactly.
    let dxt = poisoned(ctx, "dx", &s.input());
    run(
        ctx,
        &maxpool2d_backward(ctx, s, &xt, &dyt, &dxt, true).unwrap(),
    );
    let expected = oracle::relu::relu_backward(&x, &expected_dx);
    assert_eq!(
        read(ctx, &dxt),
        expected,
        "maxpool2d backward through ReLU {name}"
    );
}

#[test]
fn maxpool_matches_oracle() {
    for s in SHAPES {
        check_pool(gpu(), s, false, "maxpool");
    }
}

#[test]
fn maxpool_ties_go_to_the_first_maximum() {
    for s in SHAPES {
        check_pool(gpu(), s, true, "maxpool ties");
    }
}

#[test]
fn maxpool_with_chunked_tensors_matches_oracle() {
    // 1000 B chunks: x and dx (420 B a sample) split into pairs of samples, y and dy
    // (72 B a sample) into 12 + 4 (13 fit; cut to a multiple of 4), so pieces start
    // mid-chunk in every tensor.
    let ctx = gpu_with_binding_limit(1000);
    let s = shape(16, 3, 5, 7);
    for (label, dims) in [("x", s.input()), ("y", s.output())] {
        let t = vgg_wgpu::gpu::Tensor::zeros(&ctx, label, &dims).unwrap();
        assert!(t.chunks.len() > 1, "{label} is not split");
    }
    check_pool(&ctx, &s, false, "maxpool chunked");
    check_pool(&ctx, &s, true, "maxpool chunked ties");
}

#[test]
fn maxpool_rejects_inputs_smaller_than_the_window() {
    let ctx = gpu();
    for s in [shape(2, 3, 1, 1), shape(1, 4, 1, 6), shape(1, 4, 5, 1)] {
        let xt = upload(ctx, "x", &s.input(), &vec![0.0; s.input().iter().product()]);
        let yt = vgg_wgpu::gpu::Tensor::zeros(ctx, "y", &s.output()).unwrap();
        let err = match maxpool2d_forward(ctx, &s, &xt, &yt) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{s:?}: a pool with an empty output was accepted"),
        };
        assert!(
            err.contains("smaller than the 2×2 pooling window"),
            "{s:?}: unhelpful error '{err}'"
        );
        assert!(maxpool2d_backward(ctx, &s, &xt, &yt, &xt, false).is_err());
    }
}
