//! The compiled training plan against the oracle's whole-network step.

use crate::harness::*;
use vgg_wgpu::graph::reference::{forward, kink_margin, train_step, OracleState};
use vgg_wgpu::graph::{Network, ParamSet, TrainPlan};
use vgg_wgpu::model::{Config, ModelSpec, WeightFile};
use vgg_wgpu::shape::SgdHyper;
use vgg_wgpu::train::init::{random_weights, Init};

const HYPER: SgdHyper = SgdHyper {
    lr: 0.05,
    momentum: 0.9,
    weight_decay: 5e-4,
    grad_scale: 1.0,
};

/// Inputs whose forward pass comes closer than this (relative to a layer's RMS) to a
/// ReLU or max-pool branch point are redrawn: fp32 rounding (~1e-7 of that scale) could
/// send the GPU and the oracle down different branches there. About one draw in three is
/// redrawn.
const MIN_KINK_MARGIN: f64 = 1e-5;

/// Runs `steps` SGD steps on the GPU (batch split as micro × accumulation) and on the
/// oracle, then compares every parameter's total change; without accumulation also
/// each step's activations (what `TrainPlan::activations` gives to inspect).
fn check_training(
    ctx: &vgg_wgpu::kernels::GpuContext,
    spec: &ModelSpec,
    micro: usize,
    accumulation: usize,
    steps: u32,
) {
    let mut rng = rng("train step");
    let net = Network::new(spec, 0.5);
    let initial = random_weights(spec, &Init::Glorot, 3);
    let params = ParamSet::upload(ctx, spec, &initial, "initial").unwrap();
    let plan =
        pollster::block_on(TrainPlan::new(ctx, &net, params, micro, accumulation, 1)).unwrap();
    let mut oracle = OracleState::new(&net, &initial);
    let batch = micro * accumulation;
    let image_len = 3 * spec.input_size * spec.input_size;
    for step in 0..steps {
        let images = (0..100)
            .map(|_| {
                random(&mut rng, batch * image_len)
                    .iter()
                    .map(|v| v * 50.0)
                    .collect::<Vec<f32>>()
            })
            .find(|images| {
                let dropout = Some((11, step));
                kink_margin(&net, &oracle.params, images, batch, dropout) >= MIN_KINK_MARGIN
            })
            .expect("100 draws of images, all close to a ReLU or pool branch point");
        let labels: Vec<u32> = (0..batch)
            .map(|i| ((i * 5 + step as usize) % spec.classes) as u32)
            .collect();
        let stats = pollster::block_on(plan.step(ctx, &images, &labels, &HYPER, 11, step)).unwrap();
        if accumulation == 1 {
            let expected = forward(&net, &oracle.params, &images, batch, Some((11, step)));
            let acts = pollster::block_on(plan.activations(ctx)).unwrap();
            assert_eq!(
                acts.len(),
                expected.len(),
                "one activation per op and the images"
            );
            for (i, (gpu, oracle)) in acts.iter().zip(&expected).enumerate() {
                check(
                    &format!("step {step} activation {i}"),
                    gpu,
                    oracle,
                    FORWARD_TOLERANCE,
                );
            }
        }
        let oracle_loss = train_step(&net, &mut oracle, &images, &labels, &HYPER, 11, step);
        check(
            &format!("step {step} loss sum"),
            &[stats.loss_sum as f32],
            &[oracle_loss as f32],
            1e-5,
        );
    }
    let trained: WeightFile = pollster::block_on(plan.params.download(ctx)).unwrap();
    for (p, oracle_values) in spec.parameters().iter().zip(&oracle.params) {
        let start = &initial.tensors[&p.name].1;
        let delta = |w: &[f32]| {
            w.iter()
                .zip(start)
                .map(|(a, b)| a - b)
                .collect::<Vec<f32>>()
        };
        check(
            &format!("{} change", p.name),
            &delta(&trained.tensors[&p.name].1),
            &delta(oracle_values),
            BACKWARD_TOLERANCE,
        );
    }
}

fn tiny(config: Config) -> ModelSpec {
    ModelSpec {
        config,
        classes: 7,
        input_size: 32,
        width_divisor: 16,
    }
}

#[test]
fn one_step_equals_the_oracle_step() {
    check_training(gpu(), &tiny(Config::A), 3, 1, 1);
}

#[test]
fn steps_with_lrn_and_1x1_convs_equal_the_oracle() {
    check_training(gpu(), &tiny(Config::ALrn), 2, 1, 2);
    check_training(gpu(), &tiny(Config::C), 2, 1, 1);
}

#[test]
fn accumulated_micro_batches_equal_one_batch() {
    // 2 × 2 accumulated must give the oracle's step on the batch of 4 (dropout is keyed
    // by sample index within the step, so the masks agree).
    check_training(gpu(), &tiny(Config::A), 2, 2, 2);
}

#[test]
fn training_with_every_tensor_split_equals_the_oracle() {
    // 16 KiB bindings: the 32×32 input holds one image per chunk, and so on down.
    let ctx = gpu_with_binding_limit(16 * 1024);
    check_training(&ctx, &tiny(Config::A), 3, 1, 1);
}
