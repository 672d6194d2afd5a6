//! fp32 accuracy of the kernels' longest sums at VGG-16's real sizes, batch 2: fc6's dot
//! products over 25 088 inputs (its weight chunked as at the 128 MiB binding limit), the
//! input gradient of fc6/fc7 over 4096 outputs, and a conv's weight and bias gradients
//! over a 224×224 map. Judged against the f64 oracle relative to the result itself (a
//! bound relative to the sum of absolute values hides the cancellation that real
//! gradients have).
//!
//! The inputs come from `hashed` so that `benches/long_sums.py` can rebuild them in numpy
//! and measure what PyTorch's fp32 (CPU) reaches on exactly the same sums: each bound is
//! PyTorch's error there (torch 2.15, CPU, 2 threads) times `MARGIN`.

use crate::conv::forward_on_gpu;
use crate::harness::*;
use vgg_wgpu::cpu_engine::dot::dot_rows;
use vgg_wgpu::cpu_engine::winograd::{chunk_tiles, conv3x3, Filters};
use vgg_wgpu::cpu_engine::NoPause;
use vgg_wgpu::kernels::conv::{conv2d_backward_data, conv2d_backward_weight, ConvUse};
use vgg_wgpu::kernels::linear::{linear_backward_data, linear_forward};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::{ConvShape, LinearShape};

/// `n` values in [0, 1) (`signed`: [-1, 1)) from a counter hash (SplitMix64 of
/// `stream << 32 | i`), exact in f32 and cheap to rebuild elsewhere.
fn hashed(n: usize, stream: u64, signed: bool) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let mut z = (stream << 32 | i).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let u = ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32;
            if signed {
                2.0 * u - 1.0
            } else {
                u
            }
        })
        .collect()
}

/// Room over PyTorch's error for adapters that round differently (fused multiply-adds).
const MARGIN: f64 = 1.25;

/// Winograd's bound over PyTorch's direct error (see
/// `conv_inference_over_512_channels_with_winograd`): measured 3.65× (8.33e-7) on
/// lavapipe, 3.46× (7.89e-7) on SwiftShader, with room for adapters that round differently.
const WINOGRAD_BOUND: f64 = 5.0;

/// ‖gpu − oracle‖ / ‖oracle‖, printed.
fn relative_error(name: &str, gpu: &[f32], oracle: &[f32]) -> f64 {
    assert_eq!(gpu.len(), oracle.len(), "{name}: length");
    let diff: f64 = gpu
        .iter()
        .zip(oracle)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum();
    let norm: f64 = oracle.iter().map(|&b| (b as f64).powi(2)).sum();
    let relative = (diff / norm).sqrt();
    println!("{name}: relative error {relative:.3e}");
    relative
}

/// fc6 at batch 2, 64 of its 4096 outputs: x ≥ 0 as after a ReLU, weights of either
/// sign, zero bias.
fn fc6_inputs() -> (LinearShape, Vec<f32>, Vec<f32>, Vec<f32>) {
    let s = LinearShape {
        batch: 2,
        in_features: 25088,
        out_features: 64,
    };
    let x = hashed(s.batch * s.in_features, 1, false);
    let w = hashed(s.out_features * s.in_features, 2, true);
    (s, x, w, vec![0.0; s.out_features])
}

/// fc6's sums ([`fc6_inputs`]), the weight split into chunks of 20 rows. All three kernels: with subgroups, without,
/// and SwiftShader's lanes kernel (which runs on one row: the first row alone).
#[test]
fn fc6_forward_over_25088_inputs() {
    let (s, x, w, b) = fc6_inputs();
    let expected = oracle::linear::linear_forward(&s, false, &x, &w, &b);
    for (subgroups, lanes) in [(true, false), (false, false), (false, true)] {
        let mut ctx = gpu_with_binding_limit(20 * 25088 * 4);
        ctx.settings.subgroups &= subgroups;
        ctx.settings.linear_lanes = lanes;
        let name = format!(
            "fc6 forward, subgroups {}, lanes {lanes}",
            ctx.settings.subgroups
        );
        let err = match lanes {
            false => relative_error(&name, &run_linear_forward(&ctx, &s, &x, &w, &b), &expected),
            true => {
                let one = LinearShape { batch: 1, ..s };
                let y = run_linear_forward(&ctx, &one, &x[..s.in_features], &w, &b);
                relative_error(&name, &y, &expected[..s.out_features])
            }
        };
        // PyTorch: 6.59e-7.
        assert!(err <= 6.59e-7 * MARGIN, "{name}: {err:e}");
    }
}

fn run_linear_forward(
    ctx: &GpuContext,
    s: &LinearShape,
    x: &[f32],
    w: &[f32],
    b: &[f32],
) -> Vec<f32> {
    let xt = upload(ctx, "x", &s.input(), x);
    let wt = upload(ctx, "w", &s.weight(), w);
    let bt = upload(ctx, "b", &[s.out_features], b);
    let yt = poisoned(ctx, "y", &s.output());
    run(
        ctx,
        &linear_forward(ctx, s, false, &xt, &wt, &bt, &yt).unwrap(),
    );
    read(ctx, &yt)
}

/// dx of fc7 (and of fc6, per input) at batch 2 over its 4096 outputs, 64 inputs; the
/// weight in chunks of 1337 rows as fc6's are at the 128 MiB binding limit. Both kernels:
/// with subgroups and without.
#[test]
fn fc_input_gradient_over_4096_outputs() {
    let s = LinearShape {
        batch: 2,
        in_features: 64,
        out_features: 4096,
    };
    let w = hashed(s.out_features * s.in_features, 3, true);
    let dy = hashed(s.batch * s.out_features, 4, true);
    let x = vec![0.0; s.batch * s.in_features];
    let expected = oracle::linear::linear_backward(&s, &x, &w, &dy).dx;
    for subgroups in [true, false] {
        let mut ctx = gpu_with_binding_limit(1337 * 64 * 4);
        ctx.settings.subgroups &= subgroups;
        let wt = upload(&ctx, "w", &s.weight(), &w);
        let dyt = upload(&ctx, "dy", &s.output(), &dy);
        let dxt = poisoned(&ctx, "dx", &s.input());
        run(
            &ctx,
            &linear_backward_data(&ctx, &s, &dyt, &wt, &dxt).unwrap(),
        );
        let name = format!("fc input gradient, subgroups {}", ctx.settings.subgroups);
        let err = relative_error(&name, &read(&ctx, &dxt), &expected);
        // PyTorch: 3.27e-7.
        assert!(err <= 3.27e-7 * MARGIN, "{name}: {err:e}");
    }
}

/// Weight and bias gradients of a 3×3 conv over a 224×224 map at batch 2: 100 352 terms
/// each; x ≥ 0 as after a ReLU, dy of either sign.
/// PyTorch reaches 3.8–4.0e-6 on the weight and 3.6e-6 on the bias gradient of both
/// shapes used here.
fn check_conv_weight_gradient(ctx: &GpuContext, s: &ConvShape) {
    let x = hashed(s.input().iter().product(), 5, false);
    let dy = hashed(s.output().iter().product(), 6, true);
    let xt = upload(ctx, "x", &s.input(), &x);
    let dyt = upload(ctx, "dy", &s.output(), &dy);
    let dwt = poisoned(ctx, "dw", &s.weight());
    let dbt = poisoned(ctx, "db", &[s.out_channels]);
    run(
        ctx,
        &conv2d_backward_weight(ctx, s, &xt, &dyt, &dwt, &dbt).unwrap(),
    );
    let w = vec![0.0; s.weight().iter().product()];
    let expected = oracle::conv::conv2d_backward(s, &x, &w, &dy);
    let name = format!("conv {}→{} @224", s.in_channels, s.out_channels);
    let dw_err = relative_error(
        &format!("{name} dweight"),
        &read(ctx, &dwt),
        &expected.dweight,
    );
    let db_err = relative_error(&format!("{name} dbias"), &read(ctx, &dbt), &expected.dbias);
    assert!(dw_err <= 3.84e-6 * MARGIN, "{name} dweight: {dw_err:e}");
    assert!(db_err <= 3.55e-6 * MARGIN, "{name} dbias: {db_err:e}");
}

const fn conv_at_224(in_channels: usize, out_channels: usize) -> ConvShape {
    ConvShape {
        batch: 2,
        in_channels,
        in_h: 224,
        in_w: 224,
        out_channels,
        kernel: 3,
        pad: 1,
    }
}

/// Enough input channels for the subgroup kernel (where the device has subgroups).
#[test]
fn conv_weight_gradient_over_224x224_at_batch_2() {
    check_conv_weight_gradient(gpu(), &conv_at_224(32, 16));
}

/// The workgroup-tiled kernel of GPUs, in the block shapes its launcher gives 16 output
/// channels (4) and wider layers (8).
#[test]
fn conv_weight_gradient_over_224x224_with_tiles() {
    for group_t in [4, 8] {
        check_conv_weight_gradient(&gpu_with_conv_tiles(group_t, None), &conv_at_224(32, 16));
    }
}

/// The first layer's 3 input channels: the register-tiled kernel.
#[test]
fn first_conv_weight_gradient_over_224x224_at_batch_2() {
    check_conv_weight_gradient(gpu(), &conv_at_224(3, 16));
}

/// conv forward over 512 input channels × 9 taps (4608 terms), and the input gradient of a
/// 512-output-channel conv over as many, at 14×14, batch 2: with subgroups.
#[test]
fn conv_over_512_channels() {
    check_conv_over_512_channels(gpu());
}

/// The same without subgroups (the register-tiled kernel).
#[test]
fn conv_over_512_channels_without_subgroups() {
    check_conv_over_512_channels(&gpu_without_subgroups());
}

/// The same with the workgroup-tiled kernel of GPUs (forced here on any adapter), in its
/// default block shape.
#[test]
fn conv_over_512_channels_with_tiles() {
    check_conv_over_512_channels(&gpu_with_conv_tiles(8, None));
}

/// The same with SwiftShader's kernel without subgroups (the page's, without a GPU).
#[test]
fn conv_over_512_channels_with_swiftshader_lanes() {
    check_conv_over_512_channels(&gpu_with_conv_lanes());
}

/// Winograd's F(4×4, 3×3) (SwiftShader's 3×3 convolutions at inference, never in
/// training) on the same forward sum: its transforms add rounding (coefficients up to
/// 8 in Aᵀ, 5 in Bᵀ, and 1/6, 1/12, 1/24 in G, none exact in fp32), so it has a bound
/// of its own, WINOGRAD_BOUND × PyTorch's direct error.
#[test]
fn conv_inference_over_512_channels_with_winograd() {
    let ctx = gpu_with_winograd();
    let (s, x, w, b) = conv_512_inputs();
    let y = forward_on_gpu(&ctx, &s, ConvUse::Inference, false, &x, &w, &b);
    let expected = oracle::conv::conv2d_forward(&s, false, &x, &w, &b);
    check_winograd_error("conv 512→16 @14 inference, Winograd", &y, &expected);
}

/// Winograd's error on the 512-channel sum, within WINOGRAD_BOUND × PyTorch's direct
/// error (2.28e-7).
fn check_winograd_error(name: &str, y: &[f32], expected: &[f32]) {
    let err = relative_error(name, y, expected);
    assert!(err <= 2.28e-7 * WINOGRAD_BOUND, "{name}: {err:e}");
}

/// The CPU engine's Winograd (the page's on CPU adapters) on the same sum, held to the
/// GPU's Winograd bound.
#[test]
fn conv_inference_over_512_channels_on_the_cpu_engine() {
    let (s, x, w, b) = conv_512_inputs();
    let mut pause = NoPause;
    let filters = pollster::block_on(Filters::new(&w, s.out_channels, s.in_channels, &mut pause));
    let chunk = chunk_tiles(&filters);
    let (h, w_) = (s.in_h, s.in_w);
    let y = pollster::block_on(conv3x3(
        &x, s.batch, h, w_, &filters, &b, false, chunk, &mut pause,
    ));
    let expected = oracle::conv::conv2d_forward(&s, false, &x, &w, &b);
    check_winograd_error("conv 512→16 @14 inference, CPU engine", &y, &expected);
}

/// The CPU engine's FC layers (rows times weights) on fc6's sums, held to PyTorch's error.
#[test]
fn fc6_forward_over_25088_inputs_on_the_cpu_engine() {
    let (s, x, w, b) = fc6_inputs();
    let expected = oracle::linear::linear_forward(&s, false, &x, &w, &b);
    let mut y = vec![0f32; s.batch * s.out_features];
    dot_rows(&x, &w, &b, false, &mut y);
    let err = relative_error("fc6 forward, CPU engine", &y, &expected);
    assert!(err <= 6.59e-7 * MARGIN, "CPU engine's fc6: {err:e}");
}

/// [`CONV_512`] and its forward inputs: source, weight, zero bias.
fn conv_512_inputs() -> (ConvShape, Vec<f32>, Vec<f32>, Vec<f32>) {
    let s = CONV_512;
    let x = hashed(s.input().iter().product(), 7, false);
    let w = hashed(s.weight().iter().product(), 8, true);
    (s, x, w, vec![0.0; s.out_channels])
}

/// The conv sums of these tests: 512 source channels × 9 taps at 14×14, batch 2.
const CONV_512: ConvShape = ConvShape {
    batch: 2,
    in_channels: 512,
    in_h: 14,
    in_w: 14,
    out_channels: 16,
    kernel: 3,
    pad: 1,
};

fn check_conv_over_512_channels(ctx: &GpuContext) {
    let (s, x, w, b) = conv_512_inputs();
    let y = forward_on_gpu(ctx, &s, ConvUse::Training, false, &x, &w, &b);
    let expected = oracle::conv::conv2d_forward(&s, false, &x, &w, &b);
    let err = relative_error("conv 512→16 @14 forward", &y, &expected);
    // PyTorch: 2.28e-7.
    assert!(err <= 2.28e-7 * MARGIN, "conv forward: {err:e}");

    // The input gradient of 16 channels from 512 output channels.
    let t = ConvShape {
        in_channels: 16,
        out_channels: 512,
        ..s
    };
    let w = hashed(t.weight().iter().product(), 9, true);
    let dy = hashed(t.output().iter().product(), 10, true);
    let wt = upload(ctx, "w", &t.weight(), &w);
    let dyt = upload(ctx, "dy", &t.output(), &dy);
    let dxt = poisoned(ctx, "dx", &t.input());
    run(
        ctx,
        &conv2d_backward_data(ctx, &t, &dyt, &wt, &dxt).unwrap(),
    );
    let x = vec![0.0; t.input().iter().product()];
    let expected = oracle::conv::conv2d_backward(&t, &x, &w, &dy).dx;
    let err = relative_error(
        "conv 16←512 @14 input gradient",
        &read(ctx, &dxt),
        &expected,
    );
    // PyTorch: 2.39e-7.
    assert!(err <= 2.39e-7 * MARGIN, "conv input gradient: {err:e}");
}
