//! Data-parallel replicas against one replica: the same global batch, seed and data
//! order must give the same weights whatever the split.

use crate::harness::*;
use vgg_wgpu::gpu::GpuContext;
use vgg_wgpu::graph::data_parallel::{buckets, DataParallel, SingleProcess};
use vgg_wgpu::graph::Network;
use vgg_wgpu::model::{Config, ModelSpec, WeightFile};
use vgg_wgpu::shape::SgdHyper;
use vgg_wgpu::train::init::{random_weights, Init};

const HYPER: SgdHyper = SgdHyper {
    lr: 0.02,
    momentum: 0.9,
    weight_decay: 5e-4,
    grad_scale: 1.0,
};

const SPEC: ModelSpec = ModelSpec {
    config: Config::A,
    classes: 7,
    input_size: 32,
    width_divisor: 16,
};

/// `steps` global batches of 8 images and labels.
fn batches(steps: u32) -> Vec<(Vec<f32>, Vec<u32>)> {
    let mut rng = rng("data parallel");
    let image_len = 3 * SPEC.input_size * SPEC.input_size;
    (0..steps)
        .map(|step| {
            let images = random(&mut rng, 8 * image_len)
                .iter()
                .map(|v| v * 50.0)
                .collect();
            let labels = (0..8).map(|i| (i * 3 + step) % 7).collect();
            (images, labels)
        })
        .collect()
}

/// Trains on `data`, each global batch of 8 split as `replicas × micro × accumulation`,
/// and returns the final weights, after checking every replica holds the same bits.
fn train(
    devices: &[GpuContext],
    micro: usize,
    accumulation: usize,
    bucket_bytes: usize,
    data: &[(Vec<f32>, Vec<u32>)],
) -> WeightFile {
    let net = Network::new(&SPEC, 0.5);
    let initial = random_weights(&SPEC, &Init::Glorot, 5);
    let parallel = pollster::block_on(DataParallel::new(
        devices,
        &net,
        &initial,
        micro,
        accumulation,
        1,
        bucket_bytes,
    ))
    .unwrap();
    assert_eq!(parallel.batch(), 8);
    for (step, (images, labels)) in data.iter().enumerate() {
        let (stats, exchange) = pollster::block_on(parallel.step(
            images,
            labels,
            &HYPER,
            11,
            step as u32,
            0,
            &SingleProcess,
        ))
        .unwrap();
        assert_eq!(stats.samples, 8);
        if devices.len() > 1 {
            assert!(exchange.bytes > 0, "replicas must exchange gradients");
        }
    }
    let mut replicas = parallel
        .plans
        .iter()
        .zip(devices)
        .map(|(plan, ctx)| pollster::block_on(plan.params.download(ctx)).unwrap());
    let first = replicas.next().unwrap();
    for (r, other) in replicas.enumerate() {
        assert!(
            other.tensors == first.tensors,
            "replica {} drifted from replica 0",
            r + 1
        );
    }
    first
}

fn compare(name: &str, a: &WeightFile, b: &WeightFile, tolerance: f64) {
    for p in SPEC.parameters() {
        check(
            &format!("{name}: {}", p.name),
            &a.tensors[&p.name].1,
            &b.tensors[&p.name].1,
            tolerance,
        );
    }
}

#[test]
fn two_replicas_give_the_weights_of_one() {
    let data = batches(10);
    let one = train(&[separate_gpu()], 8, 1, 4 << 20, &data);
    let two = train(&[separate_gpu(), separate_gpu()], 4, 1, 4 << 20, &data);
    compare("2 replicas × 4 vs 1 × 8, 10 steps", &two, &one, 1e-5);
}

#[test]
fn replicas_with_accumulation_and_one_bucket_per_layer_agree() {
    // 1-byte buckets close after every layer; a small binding limit splits every
    // gradient into chunks, which the bucket copies must lay out in order.
    let data = batches(4);
    let one = train(&[separate_gpu()], 4, 2, 1, &data);
    let two = train(
        &[
            gpu_with_binding_limit(16 * 1024),
            gpu_with_binding_limit(16 * 1024),
        ],
        2,
        2,
        1,
        &data,
    );
    compare(
        "2 replicas × 2 × 2 accumulated vs 1 × 4 × 2",
        &two,
        &one,
        1e-5,
    );
}

#[test]
fn buckets_follow_the_backward_order_and_cover_every_parameter() {
    let ctx = gpu();
    let net = Network::new(&SPEC, 0.5);
    let weights = random_weights(&SPEC, &Init::Glorot, 5);
    let parallel = pollster::block_on(DataParallel::new(
        std::slice::from_ref(ctx),
        &net,
        &weights,
        2,
        1,
        2,
        1,
    ))
    .unwrap();
    let plan = &parallel.plans[0];
    let order = plan.gradient_order();
    // Backward finishes the classifier first and the first conv last.
    assert_eq!(order.first(), Some(&(SPEC.parameters().len() - 2)));
    assert_eq!(order.last(), Some(&0));
    let per_layer = parallel.buckets();
    assert_eq!(per_layer.len(), order.len());
    let whole = buckets(&plan.gradients, &order, usize::MAX);
    assert_eq!(whole.len(), 1);
    let mut covered: Vec<usize> = whole[0].params.clone();
    covered.sort();
    assert_eq!(covered, (0..SPEC.parameters().len()).collect::<Vec<_>>());
    let total: usize = plan.gradients.tensors.iter().map(|t| t.len()).sum();
    assert_eq!(whole[0].elements, total);
}
