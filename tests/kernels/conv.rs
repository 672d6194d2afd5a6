use crate::harness::*;
use vgg_wgpu::kernels::conv::{
    conv2d_backward_data, conv2d_backward_weight, conv2d_backward_weight_accumulate,
    conv2d_forward, ConvUse,
};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::ConvShape;

/// VGG's shapes in miniature plus the awkward ones: 1×1 spatial, odd sizes, sizes that
/// are no multiple of the 8×8 tile, 1×1 kernels (config C), 7×7 (dense fc6), 9×9.
pub const SHAPES: &[ConvShape] = &[
    ConvShape {
        batch: 1,
        in_channels: 3,
        in_h: 9,
        in_w: 7,
        out_channels: 5,
        kernel: 3,
        pad: 1,
    },
    ConvShape {
        batch: 2,
        in_channels: 64,
        in_h: 6,
        in_w: 5,
        out_channels: 67,
        kernel: 3,
        pad: 1,
    },
    ConvShape {
        batch: 3,
        in_channels: 5,
        in_h: 1,
        in_w: 1,
        out_channels: 6,
        kernel: 3,
        pad: 1,
    },
    ConvShape {
        batch: 2,
        in_channels: 7,
        in_h: 5,
        in_w: 6,
        out_channels: 9,
        kernel: 1,
        pad: 0,
    },
    ConvShape {
        batch: 2,
        in_channels: 6,
        in_h: 9,
        in_w: 8,
        out_channels: 10,
        kernel: 7,
        pad: 0,
    },
    ConvShape {
        batch: 1,
        in_channels: 4,
        in_h: 3,
        in_w: 11,
        out_channels: 2,
        kernel: 5,
        pad: 2,
    },
    // Past the subgroup kernel's written-out taps (filters up to 7×7): its loop.
    ConvShape {
        batch: 1,
        in_channels: 3,
        in_h: 10,
        in_w: 12,
        out_channels: 5,
        kernel: 9,
        pad: 4,
    },
    // Narrow enough for the subgroup kernel's 2-row × 4-column tile, odd height.
    ConvShape {
        batch: 3,
        in_channels: 20,
        in_h: 5,
        in_w: 3,
        out_channels: 18,
        kernel: 3,
        pad: 1,
    },
    // Enough input channels for the subgroup weight-gradient kernel, an image big
    // enough that its reduction splits into parts, and wide enough for its four-column
    // steps, with one column left over.
    ConvShape {
        batch: 2,
        in_channels: 24,
        in_h: 40,
        in_w: 37,
        out_channels: 20,
        kernel: 3,
        pad: 1,
    },
    // Big enough that the weight gradient splits its reduction into parts (checked by
    // the unit test `weight_gradient_of_a_large_image_is_split` in src/kernels/conv/row_split.rs).
    ConvShape {
        batch: 2,
        in_channels: 3,
        in_h: 40,
        in_w: 36,
        out_channels: 8,
        kernel: 3,
        pad: 1,
    },
];

/// A small shape for the chunked tests: with 2 KiB bindings x and dx (480 B a sample)
/// split 4 + 1, y and dy (2040 B a sample) into single samples, the weight and dweight
/// (144 B a filter) into 12 + 5 filters (14 fit; chunks of 8 rows or more are cut to a
/// multiple of 4).
pub const CHUNKED: ConvShape = ConvShape {
    batch: 5,
    in_channels: 4,
    in_h: 6,
    in_w: 5,
    out_channels: 17,
    kernel: 3,
    pad: 1,
};

/// How many chunks the input, output and weight of `s` take on `ctx`.
pub fn chunk_counts(ctx: &GpuContext, s: &ConvShape) -> [usize; 3] {
    let chunks = |shape: &[usize]| {
        vgg_wgpu::gpu::Tensor::zeros(ctx, "probe", shape)
            .unwrap()
            .chunks
            .len()
    };
    [chunks(&s.input()), chunks(&s.output()), chunks(&s.weight())]
}

pub fn check_forward(ctx: &GpuContext, s: &ConvShape, relu: bool, seed_name: &str) {
    check_forward_for(
        ctx,
        s,
        ConvUse::Training,
        relu,
        seed_name,
        FORWARD_TOLERANCE,
    );
}

pub fn check_forward_for(
    ctx: &GpuContext,
    s: &ConvShape,
    use_: ConvUse,
    relu: bool,
    seed_name: &str,
    tolerance: f64,
) {
    let mut rng = rng(seed_name);
    let x = random(&mut rng, s.input().iter().product());
    let w = random(&mut rng, s.weight().iter().product());
    let b = random(&mut rng, s.out_channels);
    let expected = oracle::conv::conv2d_forward(s, relu, &x, &w, &b);
    // The same sums over the inputs' absolute values: the scale of their rounding.
    let magnitude = oracle::conv::conv2d_forward(s, false, &abs(&x), &abs(&w), &abs(&b));
    check_scaled(
        &format!("conv2d forward {s:?} relu={relu}"),
        &forward_on_gpu(ctx, s, use_, relu, &x, &w, &b),
        &expected,
        &magnitude,
        tolerance,
    );
}

/// The GPU's conv forward of `x` with filters `w` and bias `b` (into a poisoned output).
pub fn forward_on_gpu(
    ctx: &GpuContext,
    s: &ConvShape,
    use_: ConvUse,
    relu: bool,
    x: &[f32],
    w: &[f32],
    b: &[f32],
) -> Vec<f32> {
    let (xt, wt, bt) = (
        upload(ctx, "x", &s.input(), x),
        upload(ctx, "w", &s.weight(), w),
        upload(ctx, "b", &[s.out_channels], b),
    );
    let yt = poisoned(ctx, "y", &s.output());
    run(
        ctx,
        &conv2d_forward(ctx, s, use_, relu, &xt, &wt, &bt, &yt).unwrap(),
    );
    read(ctx, &yt)
}

#[test]
fn forward_matches_oracle() {
    for (i, s) in SHAPES.iter().enumerate() {
        check_forward(gpu(), s, i % 2 == 0, "conv forward");
    }
}

#[test]
fn forward_with_chunked_tensors_matches_oracle() {
    // 2 KiB chunks: the input (480 B a sample) splits 4 + 1, the output (2040 B a
    // sample) into single samples, the weight (144 B a filter) into 12 + 5 filters.
    let ctx = gpu_with_binding_limit(2048);
    let s = CHUNKED;
    check_forward(&ctx, &s, true, "conv forward chunked");
}

#[test]
fn forward_with_one_row_tiles_matches_oracle() {
    // The variant SwiftShader gets (its compiler cannot take two rows), on every shape,
    // then with every tensor chunked as above.
    let ctx = gpu_with_conv_tile_rows(1);
    for (i, s) in SHAPES.iter().enumerate() {
        check_forward(&ctx, s, i % 2 == 1, "conv forward one row");
    }
    let mut ctx = gpu_with_binding_limit(2048);
    ctx.settings.subgroups = false;
    ctx.settings.conv_lanes = false;
    ctx.settings.conv_tile_rows = 1;
    let s = CHUNKED;
    check_forward(&ctx, &s, true, "conv forward one row chunked");
}

#[test]
fn every_subgroup_tile_shape_matches_oracle() {
    // The shapes the autotuner chooses among: 1 row × 8 columns or 2 rows × 4 columns,
    // 16 or 32 target channels.
    for tile in [(1, 16), (1, 32), (2, 16), (2, 32)] {
        let ctx = gpu_with_conv_tile(tile);
        for (i, s) in SHAPES.iter().enumerate() {
            let name = format!("conv tile {tile:?}");
            check_forward(&ctx, s, i % 2 == 0, &name);
            check_backward(&ctx, s, &name);
        }
    }
}

#[test]
fn forward_and_backward_with_swiftshader_lanes_match_oracle() {
    // conv2d_lanes.wgsl and its copies (SwiftShader's kernel; its
    // results do not depend on how the adapter groups invocations), on every shape, then
    // with every tensor chunked (where a copy would exceed the 2 KiB binding limit,
    // conv2d.wgsl runs instead).
    let ctx = gpu_with_conv_lanes();
    for (i, s) in SHAPES.iter().enumerate() {
        check_forward(&ctx, s, i % 2 == 0, "conv forward lanes");
        check_backward(&ctx, s, "conv backward lanes");
    }
    let mut ctx = gpu_with_binding_limit(2048);
    ctx.settings.subgroups = false;
    ctx.settings.conv_lanes = true;
    ctx.settings.conv_ignore_speed_rules = true;
    check_forward(&ctx, &CHUNKED, true, "conv forward lanes chunked");
    check_backward(&ctx, &CHUNKED, "conv backward lanes chunked");
}

#[test]
fn inference_with_winograd_matches_oracle() {
    // Winograd's F(4×4, 3×3) (SwiftShader's 3×3 convolutions at inference) on every
    // shape: the 3×3 ones run it (sizes no multiple of its 4×4 tiles, 1×1 maps, 67
    // target channels: a block and a part), the others conv2d_lanes.wgsl. Its rounding
    // is larger than the direct sum's (a tenth of FORWARD_TOLERANCE is 10× what the
    // direct kernels reach), so it is held to 1e-5 here too, and to its own bound over
    // 512 channels in long_sums.rs. Then chunked: its transformed operands exceed the
    // 2 KiB bindings, so the direct kernel runs there.
    let ctx = gpu_with_winograd();
    for (i, s) in SHAPES.iter().enumerate() {
        let name = "conv forward winograd";
        check_forward_for(
            &ctx,
            s,
            ConvUse::Inference,
            i % 2 == 0,
            name,
            FORWARD_TOLERANCE,
        );
    }
    let mut ctx = gpu_with_binding_limit(2048);
    ctx.settings.subgroups = false;
    ctx.settings.conv_winograd = true;
    let name = "conv forward winograd chunked";
    check_forward_for(
        &ctx,
        &CHUNKED,
        ConvUse::Inference,
        true,
        name,
        FORWARD_TOLERANCE,
    );
}

#[test]
fn forward_and_backward_without_subgroups_match_oracle() {
    let ctx = gpu_without_subgroups();
    for (i, s) in SHAPES.iter().enumerate() {
        check_forward(&ctx, s, i % 2 == 0, "conv forward without subgroups");
        check_backward(&ctx, s, "conv backward without subgroups");
    }
}

/// dx, dweight and dbias from the two backward kernels against the oracle, on fresh
/// random x, weight and dy.
pub fn check_backward(ctx: &GpuContext, s: &ConvShape, seed_name: &str) {
    let mut rng = rng(seed_name);
    let x = random(&mut rng, s.input().iter().product());
    let w = random(&mut rng, s.weight().iter().product());
    let dy = random(&mut rng, s.output().iter().product());
    let (xt, wt, dyt) = (
        upload(ctx, "x", &s.input(), &x),
        upload(ctx, "w", &s.weight(), &w),
        upload(ctx, "dy", &s.output(), &dy),
    );
    let dxt = poisoned(ctx, "dx", &s.input());
    let dwt = poisoned(ctx, "dw", &s.weight());
    let dbt = poisoned(ctx, "db", &[s.out_channels]);
    let mut launches = conv2d_backward_data(ctx, s, &dyt, &wt, &dxt).unwrap();
    launches.extend(conv2d_backward_weight(ctx, s, &xt, &dyt, &dwt, &dbt).unwrap());
    run(ctx, &launches);
    let expected = oracle::conv::conv2d_backward(s, &x, &w, &dy);
    let magnitudes = oracle::conv::conv2d_backward(s, &abs(&x), &abs(&w), &abs(&dy));
    for (name, t, reference, magnitude) in [
        ("dx", &dxt, &expected.dx, &magnitudes.dx),
        ("dweight", &dwt, &expected.dweight, &magnitudes.dweight),
        ("dbias", &dbt, &expected.dbias, &magnitudes.dbias),
    ] {
        check_scaled(
            &format!("conv2d backward {name} {s:?}"),
            &read(ctx, t),
            reference,
            magnitude,
            BACKWARD_TOLERANCE,
        );
    }
}

#[test]
fn backward_matches_oracle() {
    for s in SHAPES {
        check_backward(gpu(), s, "conv backward");
    }
}

#[test]
fn backward_with_chunked_tensors_matches_oracle() {
    // 2 KiB chunks: x and dx (480 B a sample) split 4 + 1, dy (2040 B a sample) into
    // single samples, so (x, dy) and (dy, dx) meet in 5 row pieces; the weight and
    // dweight (144 B a filter) split into 12 + 5 filters; dbias (68 B) stays whole.
    let ctx = gpu_with_binding_limit(2048);
    let s = CHUNKED;
    assert_eq!(
        chunk_counts(&ctx, &s),
        [2, 5, 2],
        "the binding limit must split every tensor involved"
    );
    check_backward(&ctx, &s, "conv backward chunked");
}

#[test]
fn backward_with_one_row_tiles_matches_oracle() {
    // The variant SwiftShader gets, on every shape, then with every tensor chunked.
    let ctx = gpu_with_conv_tile_rows(1);
    for s in SHAPES {
        check_backward(&ctx, s, "conv backward one row");
    }
    let mut ctx = gpu_with_binding_limit(2048);
    ctx.settings.subgroups = false;
    ctx.settings.conv_lanes = false;
    ctx.settings.conv_tile_rows = 1;
    let s = CHUNKED;
    check_backward(&ctx, &s, "conv backward one row chunked");
}

/// Overwrites dweight and dbias with the gradients of one batch (x1, dy1), then adds
/// those of another (x2, dy2): the sum of the two oracle gradients.
pub fn check_backward_weight_accumulate(ctx: &GpuContext, s: &ConvShape, seed_name: &str) {
    let mut rng = rng(seed_name);
    let n_x: usize = s.input().iter().product();
    let n_dy: usize = s.output().iter().product();
    let (x1, dy1) = (random(&mut rng, n_x), random(&mut rng, n_dy));
    let (x2, dy2) = (random(&mut rng, n_x), random(&mut rng, n_dy));
    let x1t = upload(ctx, "x1", &s.input(), &x1);
    let dy1t = upload(ctx, "dy1", &s.output(), &dy1);
    let x2t = upload(ctx, "x2", &s.input(), &x2);
    let dy2t = upload(ctx, "dy2", &s.output(), &dy2);
    let dwt = poisoned(ctx, "dw", &s.weight());
    let dbt = poisoned(ctx, "db", &[s.out_channels]);
    let mut launches = conv2d_backward_weight(ctx, s, &x1t, &dy1t, &dwt, &dbt).unwrap();
    launches.extend(conv2d_backward_weight_accumulate(ctx, s, &x2t, &dy2t, &dwt, &dbt).unwrap());
    run(ctx, &launches);

    let w_unused = vec![0.0; s.weight().iter().product()];
    let g1 = oracle::conv::conv2d_backward(s, &x1, &w_unused, &dy1);
    let g2 = oracle::conv::conv2d_backward(s, &x2, &w_unused, &dy2);
    let m1 = oracle::conv::conv2d_backward(s, &abs(&x1), &w_unused, &abs(&dy1));
    let m2 = oracle::conv::conv2d_backward(s, &abs(&x2), &w_unused, &abs(&dy2));
    let plus = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| a + b).collect::<Vec<_>>();
    check_scaled(
        &format!("conv2d accumulate dweight {s:?}"),
        &read(ctx, &dwt),
        &plus(&g1.dweight, &g2.dweight),
        &plus(&m1.dweight, &m2.dweight),
        BACKWARD_TOLERANCE,
    );
    check_scaled(
        &format!("conv2d accumulate dbias {s:?}"),
        &read(ctx, &dbt),
        &plus(&g1.dbias, &g2.dbias),
        &plus(&m1.dbias, &m2.dbias),
        BACKWARD_TOLERANCE,
    );
}

#[test]
fn backward_weight_accumulate_adds_to_the_gradients() {
    for s in &SHAPES[..3] {
        check_backward_weight_accumulate(gpu(), s, "conv accumulate");
    }
}

#[test]
fn backward_weight_accumulate_with_chunked_tensors() {
    // As in backward_with_chunked_tensors_matches_oracle: x splits 4 + 1, dy into
    // single samples, dweight into 12 + 5 filters, so every launch of the accumulating
    // pass, the first included, adds.
    let ctx = gpu_with_binding_limit(2048);
    let s = CHUNKED;
    assert_eq!(
        chunk_counts(&ctx, &s),
        [2, 5, 2],
        "the binding limit must split every tensor involved"
    );
    check_backward_weight_accumulate(&ctx, &s, "conv accumulate chunked");
}

#[test]
fn many_channels_with_chunked_tensors_match_oracle() {
    // 8 KiB chunks with 24 input channels (the subgroup weight-gradient kernel's range):
    // x and dx (2880 B a sample) split 2 + 2 + 1, dy (2040 B a sample) 4 + 1, the
    // weight and dweight (864 B a filter) 8 + 8 + 1 filters (9 fit; cut to a multiple
    // of 4).
    let ctx = gpu_with_binding_limit(8192);
    let s = ConvShape {
        batch: 5,
        in_channels: 24,
        in_h: 6,
        in_w: 5,
        out_channels: 17,
        kernel: 3,
        pad: 1,
    };
    assert_eq!(
        chunk_counts(&ctx, &s),
        [3, 2, 3],
        "the binding limit must split every tensor involved"
    );
    check_forward(&ctx, &s, true, "conv forward chunked, many channels");
    check_backward(&ctx, &s, "conv backward chunked, many channels");
    check_backward_weight_accumulate(&ctx, &s, "conv accumulate chunked, many channels");
}
