//! Fine-tuning plans (`graph::Trainable`): frozen layers stay bit-identical and cost
//! nothing in the backward pass; the trained ones take exactly the step an unfrozen
//! plan takes; the conv layers' learning-rate multiplier scales exactly their step.

use crate::harness::*;
use vgg_wgpu::graph::{Network, ParamSet, TrainPlan, Trainable};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::{Config, ModelSpec, WeightFile};
use vgg_wgpu::shape::SgdHyper;
use vgg_wgpu::train::init::{random_weights, Init};

const HYPER: SgdHyper = SgdHyper {
    lr: 0.05,
    momentum: 0.9,
    weight_decay: 5e-4,
    grad_scale: 1.0,
};

fn spec() -> ModelSpec {
    ModelSpec {
        config: Config::A,
        classes: 5,
        input_size: 32,
        width_divisor: 16,
    }
}

/// Three batches of 4 images.
fn batches() -> Vec<Vec<f32>> {
    let mut rng = rng("fine tune");
    (0..3)
        .map(|_| {
            random(&mut rng, 4 * 3 * 32 * 32)
                .iter()
                .map(|v| v * 50.0)
                .collect()
        })
        .collect()
}

/// The weights after a step on each of `batches` by a plan training as `trainable`
/// says, with the learning rate `lr`, and the plan.
fn train(
    ctx: &GpuContext,
    trainable: Trainable,
    lr: f32,
    batches: &[Vec<f32>],
) -> (WeightFile, TrainPlan) {
    let spec = spec();
    let net = Network::new(&spec, 0.5).with_trainable(trainable).unwrap();
    let initial = random_weights(&spec, &Init::Glorot, 3);
    let params = ParamSet::upload(ctx, &spec, &initial, "initial").unwrap();
    let plan = pollster::block_on(TrainPlan::new(ctx, &net, params, 4, 1, 1)).unwrap();
    let hyper = SgdHyper { lr, ..HYPER };
    for (step, images) in (0..).zip(batches) {
        let labels = [0, 1, 2, 3 + step % 2];
        pollster::block_on(plan.step(ctx, images, &labels, &hyper, 7, step)).unwrap();
    }
    (pollster::block_on(plan.params.download(ctx)).unwrap(), plan)
}

fn is_conv(name: &str) -> bool {
    name.starts_with("features.")
}

#[test]
fn frozen_features_stay_bit_identical_and_the_classifier_steps_as_unfrozen() {
    let ctx = gpu();
    let initial = random_weights(&spec(), &Init::Glorot, 3);
    let convs = spec().conv_layers().len();
    let frozen = Trainable {
        frozen_layers: convs,
        ..Trainable::ALL
    };
    let batches = batches();
    let (after_frozen, plan) = train(ctx, frozen, HYPER.lr, &batches);
    for (name, tensor) in &after_frozen.tensors {
        match is_conv(name) {
            true => assert_eq!(tensor, &initial.tensors[name], "{name} was frozen"),
            false => assert_ne!(tensor, &initial.tensors[name], "{name} trains"),
        }
    }
    // Only the three FC layers have gradients and momenta.
    assert_eq!(plan.gradients.tensors.len(), 6);
    assert_eq!(plan.momenta.tensors.len(), 6);
    let (_, unfrozen_plan) = train(ctx, Trainable::ALL, HYPER.lr, &[]);
    assert!(
        plan.launch_count() < unfrozen_plan.launch_count(),
        "a frozen step launches less: {} vs {}",
        plan.launch_count(),
        unfrozen_plan.launch_count()
    );
    // One step from the same start: the classifier's gradient does not depend on
    // whether the features train, so its update is the same to the bit.
    let (one_frozen, _) = train(ctx, frozen, HYPER.lr, &batches[..1]);
    let (one_unfrozen, _) = train(ctx, Trainable::ALL, HYPER.lr, &batches[..1]);
    for (name, tensor) in &one_frozen.tensors {
        if !is_conv(name) {
            assert_eq!(tensor, &one_unfrozen.tensors[name], "{name} after one step");
        }
    }
}

#[test]
fn the_features_learning_rate_multiplier_scales_only_the_conv_step() {
    let ctx = gpu();
    let scale = 0.1;
    let scaled = Trainable {
        conv_lr_scale: scale,
        ..Trainable::ALL
    };
    let batches = batches();
    let (mixed, _) = train(ctx, scaled, HYPER.lr, &batches[..1]);
    let (full, _) = train(ctx, Trainable::ALL, HYPER.lr, &batches[..1]);
    let (slow, _) = train(ctx, Trainable::ALL, HYPER.lr * scale, &batches[..1]);
    for (name, tensor) in &mixed.tensors {
        let expected = match is_conv(name) {
            true => &slow.tensors[name],
            false => &full.tensors[name],
        };
        assert_eq!(tensor, expected, "{name}");
    }
}

#[test]
fn freezing_every_layer_is_refused() {
    let all = spec().parameters().len() / 2;
    let message = Network::new(&spec(), 0.5)
        .with_trainable(Trainable {
            frozen_layers: all,
            ..Trainable::ALL
        })
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("--freeze") && message.contains("leave at least"),
        "{message}"
    );
}
