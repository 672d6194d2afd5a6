use crate::harness::*;
use vgg_wgpu::kernels::linear::{
    linear_backward_data, linear_backward_weight, linear_backward_weight_accumulate, linear_forward,
};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::LinearShape;

const fn shape(batch: usize, in_features: usize, out_features: usize) -> LinearShape {
    LinearShape {
        batch,
        in_features,
        out_features,
    }
}

/// Odd sizes (no multiple of the 4×4 tile), batch 1, features ≥ 64, 1×1, and sizes
/// that are exact multiples of the tile.
pub const SHAPES: &[LinearShape] = &[
    shape(3, 37, 29),
    shape(1, 64, 67),
    shape(5, 70, 64),
    shape(1, 1, 1),
    shape(2, 3, 1),
    shape(4, 8, 12),
    shape(7, 130, 3),
    // Multiples of 4 (the subgroup kernels' vec4 rows): K an odd multiple of 4, rows
    // not a multiple of 8, more than 256 outputs (two workgroups of 64 × 4).
    shape(11, 68, 260),
    shape(9, 516, 20),
];

fn check_linear(ctx: &GpuContext, s: &LinearShape, relu: bool, seed_name: &str) {
    let mut rng = rng(seed_name);
    let x = random(&mut rng, s.input().iter().product());
    let w = random(&mut rng, s.weight().iter().product());
    let b = random(&mut rng, s.out_features);
    let dy = random(&mut rng, s.output().iter().product());
    let xt = upload(ctx, "x", &s.input(), &x);
    let wt = upload(ctx, "w", &s.weight(), &w);
    let bt = upload(ctx, "b", &[s.out_features], &b);
    let dyt = upload(ctx, "dy", &s.output(), &dy);
    let yt = poisoned(ctx, "y", &s.output());
    let dxt = poisoned(ctx, "dx", &s.input());
    let dwt = poisoned(ctx, "dw", &s.weight());
    let dbt = poisoned(ctx, "db", &[s.out_features]);

    let mut launches = linear_forward(ctx, s, relu, &xt, &wt, &bt, &yt).unwrap();
    launches.extend(linear_backward_data(ctx, s, &dyt, &wt, &dxt).unwrap());
    launches.extend(linear_backward_weight(ctx, s, &xt, &dyt, &dwt, &dbt).unwrap());
    run(ctx, &launches);

    let expected = oracle::linear::linear_forward(s, relu, &x, &w, &b);
    let grads = oracle::linear::linear_backward(s, &x, &w, &dy);
    // The same sums over the inputs' absolute values: the scale of their rounding.
    let magnitude = oracle::linear::linear_forward(s, false, &abs(&x), &abs(&w), &abs(&b));
    let grad_magnitudes = oracle::linear::linear_backward(s, &abs(&x), &abs(&w), &abs(&dy));
    let name = format!("linear {s:?}");
    check_scaled(
        &format!("{name} forward relu={relu}"),
        &read(ctx, &yt),
        &expected,
        &magnitude,
        FORWARD_TOLERANCE,
    );
    for (part, t, reference, magnitude) in [
        ("dx", &dxt, &grads.dx, &grad_magnitudes.dx),
        ("dweight", &dwt, &grads.dweight, &grad_magnitudes.dweight),
        ("dbias", &dbt, &grads.dbias, &grad_magnitudes.dbias),
    ] {
        check_scaled(
            &format!("{name} {part}"),
            &read(ctx, t),
            reference,
            magnitude,
            BACKWARD_TOLERANCE,
        );
    }
}

#[test]
fn linear_matches_oracle() {
    for (i, s) in SHAPES.iter().enumerate() {
        check_linear(gpu(), s, i % 2 == 0, "linear");
    }
}

#[test]
fn linear_with_chunked_tensors_matches_oracle() {
    // 512-byte chunks: x and dx (148 B a row) split every 3 rows, y and dy (116 B a
    // row) every 4, the weight and its gradient (148 B a row) every 3 output rows. Row
    // pieces of (x, y) are then 3, 1, 2, 2, 1 rows, and no chunk is a multiple of the
    // 4-row tile. The biases (116 B) fit one chunk.
    let ctx = gpu_with_binding_limit(512);
    let s = shape(9, 37, 29);
    for (t, rows_per_chunk) in [(s.input(), 3), (s.output(), 4), (s.weight(), 3)] {
        let probe = vgg_wgpu::gpu::Tensor::zeros(&ctx, "probe", &t).unwrap();
        assert_eq!(probe.chunks.len(), t[0].div_ceil(rows_per_chunk));
    }
    check_linear(&ctx, &s, true, "linear chunked");
    check_linear(&ctx, &s, false, "linear chunked");
}

#[test]
fn linear_with_chunks_of_four_rows_matches_oracle() {
    // 576-byte chunks with sizes that are multiples of 4 (the subgroup kernels' range):
    // x and dx (144 B a row) split every 4 rows, y and dy (112 B a row) every 5, the
    // weight and its gradient (144 B a row) every 4 output rows, so every weight chunk
    // starts at a multiple of 4 and row pieces of (x, y) are 4, 1, 3 and 1 rows.
    let ctx = gpu_with_binding_limit(576);
    let s = shape(9, 36, 28);
    for (t, rows_per_chunk) in [(s.input(), 4), (s.output(), 5), (s.weight(), 4)] {
        let probe = vgg_wgpu::gpu::Tensor::zeros(&ctx, "probe", &t).unwrap();
        assert_eq!(probe.chunks.len(), t[0].div_ceil(rows_per_chunk));
    }
    check_linear(&ctx, &s, true, "linear chunks of four");
}

#[test]
fn linear_without_subgroups_matches_oracle() {
    let ctx = gpu_without_subgroups();
    for (i, s) in SHAPES.iter().enumerate() {
        check_linear(&ctx, s, i % 2 == 0, "linear without subgroups");
    }
}

#[test]
fn linear_lanes_matches_oracle() {
    let ctx = gpu_with_linear_lanes();
    let mut lanes = 0;
    // Besides SHAPES: one row, K a multiple of 4, odd output counts (partial quads).
    let more = [shape(1, 516, 37), shape(1, 260, 9), shape(1, 4, 1)];
    for (i, s) in SHAPES.iter().chain(&more).enumerate() {
        check_linear(&ctx, s, i % 2 == 0, "linear lanes");
        // The shapes of one row with K a multiple of 4 run the lanes kernel, the others
        // linear.wgsl.
        let x = vgg_wgpu::gpu::Tensor::zeros(&ctx, "x", &s.input()).unwrap();
        let w = vgg_wgpu::gpu::Tensor::zeros(&ctx, "w", &s.weight()).unwrap();
        let b = vgg_wgpu::gpu::Tensor::zeros(&ctx, "b", &[s.out_features]).unwrap();
        let y = vgg_wgpu::gpu::Tensor::zeros(&ctx, "y", &s.output()).unwrap();
        let launches = linear_forward(&ctx, s, false, &x, &w, &b, &y).unwrap();
        let lanes_kernel = s.in_features % 4 == 0 && s.batch == 1;
        let expected = match lanes_kernel {
            true => "linear_forward_lanes",
            false => "linear_forward",
        };
        assert_eq!(launches[0].label, expected, "{s:?}");
        lanes += lanes_kernel as usize;
    }
    assert_eq!(lanes, 4, "shapes that ran the lanes kernel");
}

#[test]
fn linear_lanes_with_chunks_of_four_rows_matches_oracle() {
    // As linear_with_chunks_of_four_rows_matches_oracle: row pieces of 4, 1, 3 and 1 rows
    // (the pieces of one row run the lanes kernel) and weight chunks of 4 outputs (half a
    // quad's 8).
    let mut ctx = gpu_with_binding_limit(576);
    ctx.settings.subgroups = false;
    ctx.settings.linear_lanes = true;
    check_linear(&ctx, &shape(9, 36, 28), true, "linear lanes chunks of four");
}

#[test]
fn linear_backward_weight_accumulate_adds_to_the_gradients() {
    // Chunked as in the test above, so that every launch, the first included, adds.
    let ctx = gpu_with_binding_limit(512);
    let s = shape(6, 37, 29);
    let mut rng = rng("linear accumulate");
    let x = random(&mut rng, s.input().iter().product());
    let dy = random(&mut rng, s.output().iter().product());
    let dw0 = random(&mut rng, s.weight().iter().product());
    let db0 = random(&mut rng, s.out_features);
    let xt = upload(&ctx, "x", &s.input(), &x);
    let dyt = upload(&ctx, "dy", &s.output(), &dy);
    let dwt = upload(&ctx, "dw", &s.weight(), &dw0);
    let dbt = upload(&ctx, "db", &[s.out_features], &db0);
    run(
        &ctx,
        &linear_backward_weight_accumulate(&ctx, &s, &xt, &dyt, &dwt, &dbt).unwrap(),
    );
    let w_unused = vec![0.0; s.weight().iter().product()];
    let grads = oracle::linear::linear_backward(&s, &x, &w_unused, &dy);
    let plus = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| a + b).collect::<Vec<_>>();
    check(
        "linear accumulate dweight",
        &read(&ctx, &dwt),
        &plus(&dw0, &grads.dweight),
        BACKWARD_TOLERANCE,
    );
    check(
        "linear accumulate dbias",
        &read(&ctx, &dbt),
        &plus(&db0, &grads.dbias),
        BACKWARD_TOLERANCE,
    );
}

#[test]
fn linear_rejects_mismatched_shapes() {
    let ctx = gpu();
    let s = shape(2, 5, 3);
    let x = poisoned(ctx, "x", &[2, 6]);
    let w = poisoned(ctx, "w", &s.weight());
    let b = poisoned(ctx, "b", &[3]);
    let y = poisoned(ctx, "y", &s.output());
    let err = linear_forward(ctx, &s, false, &x, &w, &b, &y)
        .err()
        .expect("a (2, 6) input must be rejected for K = 5");
    assert!(err.to_string().contains("input"), "{err}");
}
