use crate::harness::*;
use vgg_wgpu::gpu::Tensor;
use vgg_wgpu::kernels::relu::{relu_backward, relu_forward};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;

/// Conv activations (batch 1 and > 1, 3 and ≥ 64 channels, odd and 1×1 spatial) and
/// FC activations (N, features).
const SHAPES: &[&[usize]] = &[
    &[1, 3, 9, 7],
    &[2, 64, 5, 3],
    &[3, 5, 1, 1],
    &[2, 4096],
    &[1, 1000],
];

fn check_relu(ctx: &GpuContext, shape: &[usize], seed_name: &str) {
    let mut rng = rng(seed_name);
    let len = shape.iter().product();
    let x = random(&mut rng, len);
    let dy = random(&mut rng, len);
    let y = oracle::relu::relu_forward(&x);
    let xt = upload(ctx, "x", shape, &x);
    let yt_gpu = poisoned(ctx, "y", shape);
    run(ctx, &relu_forward(ctx, &xt, &yt_gpu).unwrap());
    let got_y = read(ctx, &yt_gpu);
    check(
        &format!("relu forward {shape:?}"),
        &got_y,
        &y,
        FORWARD_TOLERANCE,
    );
    assert_eq!(got_y, y, "relu forward {shape:?}: not exact");

    // The backward pass reads the ReLU output (exact zeros where x ≤ 0).
    let yt = upload(ctx, "y", shape, &y);
    let dyt = upload(ctx, "dy", shape, &dy);
    let dxt = poisoned(ctx, "dx", shape);
    run(ctx, &relu_backward(ctx, &yt, &dyt, &dxt).unwrap());
    let dx = read(ctx, &dxt);
    let expected = oracle::relu::relu_backward(&y, &dy);
    check(
        &format!("relu backward {shape:?}"),
        &dx,
        &expected,
        BACKWARD_TOLERANCE,
    );
    assert_eq!(dx, expected, "relu backward {shape:?}: not exact");
}

#[test]
fn relu_matches_oracle() {
    for shape in SHAPES {
        check_relu(gpu(), shape, "relu");
    }
}

#[test]
fn relu_with_chunked_tensors_matches_oracle() {
    // 600 B chunks: samples of 180 B go 3 to a chunk (3 + 3 + 3 + 1); FC rows of
    // 120 B go 5 to a chunk (5 + 2).
    let ctx = gpu_with_binding_limit(600);
    for shape in [&[10usize, 3, 3, 5][..], &[7, 30]] {
        let t = Tensor::zeros(&ctx, "x", shape).unwrap();
        assert!(t.chunks.len() > 1, "{shape:?} is not split");
        check_relu(&ctx, shape, "relu chunked");
    }
}

#[test]
fn relu_rejects_mismatched_shapes() {
    let ctx = gpu();
    let a = Tensor::zeros(ctx, "a", &[2, 3]).unwrap();
    let b = Tensor::zeros(ctx, "b", &[3, 2]).unwrap();
    assert!(relu_forward(ctx, &a, &b).is_err());
    assert!(relu_backward(ctx, &a, &a, &b).is_err());
    assert!(relu_backward(ctx, &a, &b, &a).is_err());
}

#[test]
fn grids_over_65535_workgroups_are_folded() {
    // 65,535 workgroups of 64 invocations cover 4,194,240 elements; this needs more,
    // so the launch is folded into 2-D and every element must still be written once.
    let shape = [2, 2_100_000];
    check_relu(gpu(), &shape, "relu folded grid");
}
