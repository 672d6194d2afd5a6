//! The workgroup-tiled convolution kernels (`conv2d_tiled.wgsl`,
//! `conv2d_backward_weight_tiled.wgsl`), which adapters that are not CPUs run, forced on
//! whatever adapter the tests have, with every block shape the autotuner chooses among.

use crate::conv::{
    check_backward, check_backward_weight_accumulate, check_forward, check_forward_for,
    chunk_counts, CHUNKED, SHAPES,
};
use crate::harness::*;
use vgg_wgpu::kernels::conv::{ConvUse, TILE_GROUPS};
use vgg_wgpu::shape::ConvShape;

/// Wider than the largest block (128 target channels) and longer than one block of
/// pixels in every shape, with a k range (40 channels × 9 taps = 360) that ends inside a
/// step and sums in several parts.
const PAST_ONE_BLOCK: ConvShape = ConvShape {
    batch: 2,
    in_channels: 40,
    in_h: 7,
    in_w: 9,
    out_channels: 130,
    kernel: 3,
    pad: 1,
};

#[test]
fn every_block_shape_matches_oracle() {
    for group_t in TILE_GROUPS {
        let ctx = gpu_with_conv_tiles(group_t, None);
        let name = format!("conv tiled, GROUP_T {group_t}");
        for (i, s) in SHAPES.iter().chain([&PAST_ONE_BLOCK]).enumerate() {
            check_forward(&ctx, s, i % 2 == 0, &name);
            check_backward(&ctx, s, &name);
        }
        check_backward_weight_accumulate(&ctx, &SHAPES[1], &name);
    }
}

#[test]
fn chunked_tensors_match_oracle() {
    for group_t in TILE_GROUPS {
        let ctx = gpu_with_conv_tiles(group_t, Some(2048));
        assert_eq!(chunk_counts(&ctx, &CHUNKED), [2, 5, 2]);
        let name = format!("conv tiled chunked, GROUP_T {group_t}");
        check_forward(&ctx, &CHUNKED, true, &name);
        check_backward(&ctx, &CHUNKED, &name);
        check_backward_weight_accumulate(&ctx, &CHUNKED, &name);
    }
}

/// At inference the tiled kernel runs too (Winograd is SwiftShader's alone): the same
/// direct sums.
#[test]
fn inference_matches_oracle() {
    let ctx = gpu_with_conv_tiles(8, None);
    for s in &SHAPES[..3] {
        check_forward_for(
            &ctx,
            s,
            ConvUse::Inference,
            true,
            "conv tiled inference",
            1e-5,
        );
    }
}
