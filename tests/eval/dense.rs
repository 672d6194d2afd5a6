//! Dense evaluation equals the plain network on a training-size image, and the plain
//! network's classifier slid over the feature map of a larger one.

use crate::harness::*;
use crate::{images, small, weights};
use vgg_wgpu::graph::dense_reference::dense_scores;
use vgg_wgpu::graph::reference::{self, OracleState};
use vgg_wgpu::graph::{DensePlan, EvalPlan, Network, ParamSet};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::{Config, ModelSpec};

fn params_of(net: &Network, w: &vgg_wgpu::model::WeightFile) -> Vec<Vec<f32>> {
    OracleState::new(net, w).params
}

fn check_training_size(ctx: &GpuContext, spec: &ModelSpec, batch: usize) {
    let mut rng = rng("dense on the training size");
    let w = weights(spec, &mut rng);
    let net = Network::new(spec, 0.5);
    let params = ParamSet::upload(ctx, spec, &w, "test").unwrap();
    let s = spec.input_size;
    let x = images(&mut rng, batch, s, s);
    let dense = pollster::block_on(DensePlan::new(ctx, &net, &params, batch, s, s)).unwrap();
    assert_eq!((dense.map_shape.height, dense.map_shape.width), (1, 1));
    let out = pollster::block_on(dense.run(ctx, &x)).unwrap();
    let acts = reference::forward(&net, &params_of(&net, &w), &x, batch, None);
    let name = format!("{} input {s} batch {batch}", spec.config);
    check(
        &format!("{name}: dense scores vs plain logits"),
        &out.scores,
        &acts[net.ops.len()],
        FORWARD_TOLERANCE,
    );
    let plain = pollster::block_on(EvalPlan::new(ctx, &net, &params, batch)).unwrap();
    let probabilities = pollster::block_on(plain.probabilities(ctx, &x)).unwrap();
    check(
        &format!("{name}: dense vs plain GPU posteriors"),
        &out.probabilities,
        &probabilities,
        FORWARD_TOLERANCE,
    );
    // FC2's output is the activation before FC3 (dropout is the identity here).
    let fc3 = net.ops.len() - 1;
    check(
        &format!("{name}: dense features vs FC2 output"),
        &out.features,
        &acts[fc3],
        FORWARD_TOLERANCE,
    );
}

#[test]
fn dense_on_the_training_size_equals_the_plain_forward() {
    let ctx = gpu();
    check_training_size(ctx, &small(Config::A, 32, 7), 2);
    check_training_size(ctx, &small(Config::ALrn, 32, 7), 1);
    check_training_size(ctx, &small(Config::C, 64, 5), 2); // FC1 is a 2×2 conv
}

fn check_larger(ctx: &GpuContext, spec: &ModelSpec, batch: usize, h: usize, w: usize) {
    let mut rng = rng("dense on a larger image");
    let weights = weights(spec, &mut rng);
    let net = Network::new(spec, 0.5);
    let params = ParamSet::upload(ctx, spec, &weights, "test").unwrap();
    let x = images(&mut rng, batch, h, w);
    let dense = pollster::block_on(DensePlan::new(ctx, &net, &params, batch, h, w)).unwrap();
    let side = spec.input_size / 32;
    let map = (dense.map_shape.height, dense.map_shape.width);
    assert_eq!(map, (h / 32 - side + 1, w / 32 - side + 1));
    let out = pollster::block_on(dense.run(ctx, &x)).unwrap();
    let expected = dense_scores(&net, &params_of(&net, &weights), &x, batch, h, w);
    check(
        &format!(
            "{} input {} on {h}×{w} (map {map:?})",
            spec.config, spec.input_size
        ),
        &out.scores,
        &expected,
        FORWARD_TOLERANCE,
    );
}

#[test]
fn dense_on_larger_images_equals_the_sliding_classifier() {
    let ctx = gpu();
    check_larger(ctx, &small(Config::A, 32, 7), 2, 45, 103);
    check_larger(ctx, &small(Config::B, 64, 7), 1, 100, 75);
    check_larger(ctx, &small(Config::ALrn, 32, 3), 1, 64, 32);
}

#[test]
fn dense_with_winograd_equals_the_sliding_classifier() {
    // SwiftShader's inference: Winograd's F(4×4, 3×3) for the 3×3 convolutions,
    // conv2d_lanes.wgsl for the others, on sizes no multiple of its 4×4 tiles.
    let ctx = gpu_with_winograd();
    check_larger(&ctx, &small(Config::A, 32, 7), 2, 45, 103);
    check_training_size(&ctx, &small(Config::A, 32, 7), 2);
}

#[test]
fn dense_with_every_tensor_split() {
    // Activation rows up to 4·64·96·4 = 98 KB; FC weights of 128–262 KB split too.
    let ctx = gpu_with_binding_limit(100_000);
    check_larger(&ctx, &small(Config::A, 64, 7), 3, 64, 96);
}

#[test]
fn too_small_inputs_are_errors() {
    let ctx = gpu();
    let spec = small(Config::A, 32, 7);
    let mut rng = rng("too small");
    let params = ParamSet::upload(ctx, &spec, &weights(&spec, &mut rng), "test").unwrap();
    let net = Network::new(&spec, 0.5);
    for (b, h, w) in [(1, 31, 64), (1, 64, 20), (0, 32, 32)] {
        let message = pollster::block_on(DensePlan::new(ctx, &net, &params, b, h, w))
            .err()
            .expect("rejected")
            .to_string();
        assert!(message.contains("at least 32×32"), "{message}");
    }
}
