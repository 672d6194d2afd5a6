//! Weights stored as IEEE halves (`Storage::F16`, inference only): every kernel that
//! reads a weight at inference, on each of the paths the adapters take, gives exactly
//! what it gives on the same values stored as f32, and matches the oracle on them.

use crate::conv::SHAPES as CONV_SHAPES;
use crate::harness::*;
use crate::linear::SHAPES as LINEAR_SHAPES;
use vgg_wgpu::gpu::{Storage, Tensor};
use vgg_wgpu::kernels::conv::{conv2d_backward_data, conv2d_forward, ConvUse};
use vgg_wgpu::kernels::linear::{linear_backward_data, linear_forward};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::{ConvShape, LinearShape};

/// `values` rounded to the nearest half: what an F16 tensor holds.
fn rounded(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect()
}

fn stored(ctx: &GpuContext, shape: &[usize], values: &[f32], storage: Storage) -> Tensor {
    let t = Tensor::zeros_stored(ctx, "w", shape, storage).expect("allocate");
    t.write_f32(ctx, values).expect("write");
    t
}

/// A tensor of `shape` whose every element is `value`.
fn filled(ctx: &GpuContext, shape: &[usize], value: f32, storage: Storage) -> Tensor {
    stored(ctx, shape, &vec![value; shape.iter().product()], storage)
}

/// The kernels `linear_forward` launches for `s` with its weight stored as f16.
fn linear_kernels(ctx: &GpuContext, s: &LinearShape) -> Vec<&'static str> {
    let zeros = |shape: &[usize]| Tensor::zeros(ctx, "t", shape).unwrap();
    let w = Tensor::zeros_stored(ctx, "w", &s.weight(), Storage::F16).unwrap();
    let (x, b, y) = (
        zeros(&s.input()),
        zeros(&[s.out_features]),
        zeros(&s.output()),
    );
    let launches = linear_forward(ctx, s, false, &x, &w, &b, &y).unwrap();
    launches.iter().map(|l| l.label).collect()
}

/// An op's output given its weight stored as f16 and as f32 (`forward` runs the op on
/// a weight tensor); asserts that they agree bit for bit where `same_order` (both take
/// one kernel, which adds in one order), and that the f16 one is `expected` (the
/// oracle's on the rounded weight) within `tolerance` relative to `magnitude`.
#[allow(clippy::too_many_arguments)]
fn check_storages(
    ctx: &GpuContext,
    name: &str,
    shape: &[usize],
    w: &[f32],
    forward: impl Fn(&Tensor) -> Vec<f32>,
    same_order: bool,
    (expected, magnitude): (Vec<f32>, Vec<f32>),
    tolerance: f64,
) {
    let halves = forward(&stored(ctx, shape, w, Storage::F16));
    let singles = forward(&stored(ctx, shape, w, Storage::F32));
    let same = halves
        .iter()
        .zip(&singles)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(
        !same_order || same,
        "{name}: f16 and f32 storage of the same weights differ"
    );
    check_scaled(name, &halves, &expected, &magnitude, tolerance);
}

/// The conv forward at inference against f32 storage and the oracle (see
/// `check_storages`), bit for bit where `same_order` (`ctx` runs no subgroup kernel, so
/// both storages take one kernel). Winograd's sums round more than the direct ones (see conv.rs), hence `tolerance`.
fn check_conv(ctx: &GpuContext, s: &ConvShape, name: &str, same_order: bool, tolerance: f64) {
    let mut rng = rng(name);
    let x = random(&mut rng, s.input().iter().product());
    let w = rounded(&random(&mut rng, s.weight().iter().product()));
    let b = random(&mut rng, s.out_channels);
    let (xt, bt) = (
        upload(ctx, "x", &s.input(), &x),
        upload(ctx, "b", &[s.out_channels], &b),
    );
    let forward = |wt: &Tensor| {
        let yt = poisoned(ctx, "y", &s.output());
        run(
            ctx,
            &conv2d_forward(ctx, s, ConvUse::Inference, true, &xt, wt, &bt, &yt).unwrap(),
        );
        read(ctx, &yt)
    };
    let oracle = (
        oracle::conv::conv2d_forward(s, true, &x, &w, &b),
        oracle::conv::conv2d_forward(s, false, &abs(&x), &abs(&w), &abs(&b)),
    );
    let name = format!("{name} {s:?}");
    check_storages(
        ctx,
        &name,
        &s.weight(),
        &w,
        forward,
        same_order,
        oracle,
        tolerance,
    );
}

/// As `check_conv`; `same_order` false where the f16 kernel adds in another order than
/// the f32 one (the lanes kernel's pairs of inputs): then only the oracle is asked.
fn check_linear(ctx: &GpuContext, s: &LinearShape, name: &str, same_order: bool) {
    let mut rng = rng(name);
    let x = random(&mut rng, s.input().iter().product());
    let w = rounded(&random(&mut rng, s.weight().iter().product()));
    let b = random(&mut rng, s.out_features);
    let (xt, bt) = (
        upload(ctx, "x", &s.input(), &x),
        upload(ctx, "b", &[s.out_features], &b),
    );
    let forward = |wt: &Tensor| {
        let yt = poisoned(ctx, "y", &s.output());
        run(
            ctx,
            &linear_forward(ctx, s, true, &xt, wt, &bt, &yt).unwrap(),
        );
        read(ctx, &yt)
    };
    let oracle = (
        oracle::linear::linear_forward(s, true, &x, &w, &b),
        oracle::linear::linear_forward(s, false, &abs(&x), &abs(&w), &abs(&b)),
    );
    let name = format!("{name} {s:?}");
    check_storages(
        ctx,
        &name,
        &s.weight(),
        &w,
        forward,
        same_order,
        oracle,
        FORWARD_TOLERANCE,
    );
}

#[test]
fn an_f16_tensor_holds_the_nearest_halves_in_every_chunk() {
    // 60-byte chunks: a (7, 5) tensor splits into rows of 5 halves, an odd count, so a
    // chunk's last word is half used; the values include ties, subnormals and overflow.
    let ctx = gpu_with_binding_limit(60);
    let values: Vec<f32> = (0..35)
        .map(|i| match i {
            0 => 1.0 + 1.0 / 2048.0, // halfway between 1 and the next half: to even (1)
            1 => 1.0 + 3.0 / 2048.0, // halfway, rounds up to even
            2 => 1e-7,               // a subnormal half
            3 => 7e4,                // past the largest half: infinity
            4 => -0.0,
            i => (i as f32 - 17.0) / 3.0,
        })
        .collect();
    let t = stored(&ctx, &[7, 5], &values, Storage::F16);
    assert!(t.chunks.len() > 1, "the tensor should split into chunks");
    let back = read(&ctx, &t);
    assert_eq!(back, rounded(&values));
    assert_eq!(back[0], 1.0);
    assert_eq!(back[1], 1.0 + 2.0 / 1024.0);
    assert_eq!(back[3], f32::INFINITY);
    assert!(back[4] == 0.0 && back[4].is_sign_negative());
}

#[test]
fn conv_reads_f16_weights_on_every_path() {
    // The fallback kernel (GPUs in a browser), SwiftShader's lanes kernel and Winograd's.
    let paths = [
        (
            gpu_without_subgroups(),
            "conv f16 fallback",
            FORWARD_TOLERANCE,
        ),
        (gpu_with_conv_lanes(), "conv f16 lanes", FORWARD_TOLERANCE),
        (
            gpu_with_winograd(),
            "conv f16 winograd",
            10.0 * FORWARD_TOLERANCE,
        ),
    ];
    for (ctx, name, tolerance) in &paths {
        for s in CONV_SHAPES {
            check_conv(ctx, s, name, true, *tolerance);
        }
    }
    // Weight chunks of 3 filters of 27 halves (an odd count per chunk); the 2×1 maps keep
    // each sample of the output (40 channels) inside the 324-byte limit.
    let mut ctx = gpu_with_binding_limit(324);
    ctx.settings.subgroups = false;
    let s = ConvShape {
        batch: 2,
        in_channels: 3,
        in_h: 2,
        in_w: 1,
        out_channels: 40,
        kernel: 3,
        pad: 1,
    };
    let chunks = Tensor::zeros_stored(&ctx, "w", &s.weight(), Storage::F16)
        .unwrap()
        .chunks;
    assert!(
        chunks.len() > 1 && chunks[0].rows.len() == 3,
        "3 filters a chunk"
    );
    check_conv(&ctx, &s, "conv f16 chunked", true, FORWARD_TOLERANCE);
}

#[test]
fn conv_with_f16_weights_runs_without_subgroups_where_they_are() {
    // The subgroup kernel reads f32 weights only: on an adapter with subgroups an f16
    // weight takes the fallback kernel, which matches the oracle as well.
    for s in CONV_SHAPES {
        check_conv(gpu(), s, "conv f16 default", false, FORWARD_TOLERANCE);
    }
}

#[test]
fn linear_reads_f16_weights_on_every_path() {
    let ctx = gpu_without_subgroups();
    for s in LINEAR_SHAPES {
        check_linear(&ctx, s, "linear f16", true);
    }
    // The lanes kernel (SwiftShader) reads f16 weights a word of two inputs at a time,
    // on one row with K a multiple of 8; elsewhere linear.wgsl runs. Several blocks of
    // 128 inputs, partial quads of outputs.
    let ctx = gpu_with_linear_lanes();
    let one_row = |in_features, out_features| LinearShape {
        batch: 1,
        in_features,
        out_features,
    };
    let lanes_shapes = [
        (one_row(64, 67), true),
        (one_row(8, 3), true),
        (one_row(1032, 9), true),
        (one_row(12, 5), false),
        (
            LinearShape {
                batch: 3,
                ..one_row(64, 10)
            },
            false,
        ),
    ];
    for (s, lanes) in lanes_shapes {
        // f32 weights with K = 12 take the lanes kernel, f16 ones linear.wgsl: only the
        // piece of 3 rows runs one kernel, in one order, for both.
        check_linear(&ctx, &s, "linear f16 lanes", s.batch == 3);
        let kernels = linear_kernels(&ctx, &s);
        let expected = match lanes {
            true => "linear_forward_lanes",
            false => "linear_forward",
        };
        assert_eq!(kernels[0], expected, "{s:?}");
    }
    // Weight chunks of 4 rows of 37 halves; on the default device, subgroups or not.
    let mut ctx = gpu_with_binding_limit(4 * 37 * 4);
    ctx.settings.subgroups = false;
    let s = LinearShape {
        batch: 3,
        in_features: 37,
        out_features: 19,
    };
    check_linear(&ctx, &s, "linear f16 chunked", true);
    // On the default device, subgroups or not (the f32 weight may take the subgroup
    // kernel, the f16 one not).
    for s in LINEAR_SHAPES {
        check_linear(gpu(), s, "linear f16 default", false);
    }
}

#[test]
fn linear_over_widened_f16_weights_matches_f32_storage() {
    // SwiftShader's way for more rows than one tile: the f16 weight widened into f32 a
    // piece of outputs at a time, then linear.wgsl; the same sums as over the values
    // stored as f32, bit for bit. K = 2^15 inputs: pieces of 256 outputs (32 MiB of
    // f32), so the 260 outputs take two; the others fit one piece, and 4 rows or fewer
    // decode in the kernel.
    let mut ctx = gpu_without_subgroups();
    ctx.settings.widen_f16_weights = true;
    let shapes = [
        LinearShape {
            batch: 5,
            in_features: 1 << 15,
            out_features: 260,
        },
        LinearShape {
            batch: 18,
            in_features: 37,
            out_features: 29,
        },
        LinearShape {
            batch: 4,
            in_features: 70,
            out_features: 9,
        },
    ];
    for s in &shapes {
        check_linear(&ctx, s, "linear f16 widened", true);
        let labels = linear_kernels(&ctx, s);
        let expected: &[&str] = match s.batch {
            5 => &[
                "widen_halves",
                "linear_forward",
                "widen_halves",
                "linear_forward",
            ],
            18 => &["widen_halves", "linear_forward"],
            _ => &["linear_forward"],
        };
        assert_eq!(labels, expected, "{s:?}");
    }
}

#[test]
fn f16_weights_of_odd_rows_in_one_row_chunks_decode_in_the_kernel() {
    // Weight chunks of one row of 37 halves (a 200-byte binding limit): a chunk's
    // second row would start inside a word, so nothing is widened.
    let mut ctx = gpu_with_binding_limit(200);
    ctx.settings.subgroups = false;
    ctx.settings.widen_f16_weights = true;
    let s = LinearShape {
        batch: 18,
        in_features: 37,
        out_features: 29,
    };
    check_linear(&ctx, &s, "linear f16 one-row chunks", true);
    assert!(linear_kernels(&ctx, &s)
        .iter()
        .all(|&k| k == "linear_forward"));
}

#[test]
fn backward_passes_refuse_f16_weights() {
    let ctx = gpu();
    let s = CONV_SHAPES[0];
    let w = filled(ctx, &s.weight(), 0.5, Storage::F16);
    let dy = filled(ctx, &s.output(), 1.0, Storage::F32);
    let dx = poisoned(ctx, "dx", &s.input());
    let err = conv2d_backward_data(ctx, &s, &dy, &w, &dx)
        .err()
        .expect("an error");
    assert!(err.to_string().contains("stored as f16"), "{err}");

    let l = LINEAR_SHAPES[0];
    let w = filled(ctx, &l.weight(), 0.5, Storage::F16);
    let dy = filled(ctx, &l.output(), 1.0, Storage::F32);
    let dx = poisoned(ctx, "dx", &l.input());
    let err = linear_backward_data(ctx, &l, &dy, &w, &dx)
        .err()
        .expect("an error");
    assert!(err.to_string().contains("stored as f16"), "{err}");
}

#[test]
fn every_half_reads_back_exactly_in_a_kernel() {
    // A 1-input linear layer with x = 1 and no bias outputs its weights: all 65 536
    // halves (normal, subnormal, zeros, infinities, NaNs) through the shaders' decoding.
    let ctx = gpu_without_subgroups();
    let s = LinearShape {
        batch: 1,
        in_features: 1,
        out_features: 1 << 16,
    };
    let halves: Vec<f32> = (0..=u16::MAX)
        .map(|h| half::f16::from_bits(h).to_f32())
        .collect();
    let xt = upload(&ctx, "x", &s.input(), &[1.0]);
    let wt = stored(&ctx, &s.weight(), &halves, Storage::F16);
    let bt = upload(&ctx, "b", &[s.out_features], &vec![0.0; s.out_features]);
    let yt = poisoned(&ctx, "y", &s.output());
    run(
        &ctx,
        &linear_forward(&ctx, &s, false, &xt, &wt, &bt, &yt).unwrap(),
    );
    for (h, (got, want)) in read(&ctx, &yt).iter().zip(&halves).enumerate() {
        // x·w + 0 keeps every value but the sign of −0.
        let same = got == want || (got.is_nan() && want.is_nan());
        assert!(same, "half {h:#06x}: {got:e}, expected {want:e}");
    }
}
