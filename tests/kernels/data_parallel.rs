//! Data-parallel replicas against one replica: the same global batch, seed and data
//! order must give the same weights whatever the split.

use crate::harness::*;
use rand::rngs::StdRng;
use vgg_wgpu::graph::data_parallel::{buckets, DataParallel, SingleProcess};
use vgg_wgpu::graph::reference::{kink_margin, OracleState};
use vgg_wgpu::graph::Network;
use vgg_wgpu::kernels::GpuContext;
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

/// Inputs whose forward pass comes closer than this (relative to a layer's RMS) to a
/// ReLU or max-pool branch point are redrawn. Replicas sum gradients in another order
/// than one device, so from the second step on their weights differ by rounding
/// (~3e-7); an input within that of a branch point can send them down different
/// branches, which ten steps amplified to 7e-5 (seed 9287118814808566521 before this).
const MIN_KINK_MARGIN: f64 = 1e-5;

/// Images (8, 3, S, S) and labels (8) of one global batch.
type Batch = (Vec<f32>, Vec<u32>);

/// One global batch for `step`.
fn draw_batch(rng: &mut StdRng, step: u32) -> Batch {
    let image_len = 3 * SPEC.input_size * SPEC.input_size;
    let images = random(rng, 8 * image_len)
        .iter()
        .map(|v| v * 50.0)
        .collect();
    let labels = (0..8).map(|i| (i * 3 + step) % 7).collect();
    (images, labels)
}

/// The replicas of SPEC's network on `devices`, each global batch of 8 split as
/// `replicas × micro × accumulation`.
fn replicas<'a>(
    devices: &'a [GpuContext],
    micro: usize,
    accumulation: usize,
    bucket_bytes: usize,
) -> DataParallel<'a> {
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
    parallel
}

fn run_step(parallel: &DataParallel, step: u32, (images, labels): &Batch) {
    let (stats, exchange) =
        pollster::block_on(parallel.step(images, labels, &HYPER, 11, step, 0, &SingleProcess))
            .unwrap();
    assert_eq!(stats.samples, 8);
    if parallel.plans.len() > 1 {
        assert!(exchange.bytes > 0, "replicas must exchange gradients");
    }
}

/// The weights, after checking every replica holds the same bits.
fn weights(parallel: &DataParallel, devices: &[GpuContext]) -> WeightFile {
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

/// Trains on `data` and returns the final weights.
fn train(
    devices: &[GpuContext],
    micro: usize,
    accumulation: usize,
    bucket_bytes: usize,
    data: &[Batch],
) -> WeightFile {
    let parallel = replicas(devices, micro, accumulation, bucket_bytes);
    for (step, batch) in data.iter().enumerate() {
        run_step(&parallel, step as u32, batch);
    }
    weights(&parallel, devices)
}

/// Trains one replica for `steps` steps on batches drawn as it goes, each redrawn until
/// the network at that step's weights keeps clear of every branch point; returns the
/// final weights and the batches, for the replicas to train on.
fn train_drawing_batches(
    micro: usize,
    accumulation: usize,
    steps: u32,
) -> (WeightFile, Vec<Batch>) {
    let devices = [separate_gpu()];
    let net = Network::new(&SPEC, 0.5);
    let parallel = replicas(&devices, micro, accumulation, 4 << 20);
    let mut rng = rng("data parallel");
    let mut data = Vec::new();
    for step in 0..steps {
        let params = OracleState::new(&net, &weights(&parallel, &devices)).params;
        let dropout = Some((11, step));
        let batch = (0..100)
            .map(|_| draw_batch(&mut rng, step))
            .find(|(images, _)| kink_margin(&net, &params, images, 8, dropout) >= MIN_KINK_MARGIN)
            .expect("100 draws of images, all close to a ReLU or pool branch point");
        run_step(&parallel, step, &batch);
        data.push(batch);
    }
    (weights(&parallel, &devices), data)
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
    let (one, data) = train_drawing_batches(8, 1, 10);
    let two = train(&[separate_gpu(), separate_gpu()], 4, 1, 4 << 20, &data);
    compare("2 replicas × 4 vs 1 × 8, 10 steps", &two, &one, 1e-5);
}

#[test]
fn replicas_with_accumulation_and_one_bucket_per_layer_agree() {
    // 1-byte buckets close after every layer; a small binding limit splits every
    // gradient into chunks, which the bucket copies must lay out in order.
    let (one, data) = train_drawing_batches(4, 2, 4);
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
