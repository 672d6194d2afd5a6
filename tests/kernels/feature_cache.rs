//! Training on cached features (`train::FeatureCache`): with augmentation and dropout
//! off, the layers being taught end where training through the whole network with
//! its front frozen ends, to rounding, whether the front is every conv layer (the
//! cache holds pool5) or every layer but the last (it holds fc7's output).

use std::sync::Arc;

use crate::harness::*;
use vgg_wgpu::data::{
    Dataset, EvalTransform, Loader, LoaderConfig, Preprocessing, Split, SyntheticDataset, Transform,
};
use vgg_wgpu::graph::{Network, ParamSet, TrainPlan, Trainable};
use vgg_wgpu::model::{Config, ModelSpec, WeightFile};
use vgg_wgpu::shape::SgdHyper;
use vgg_wgpu::train::feature_views::CacheJob;
use vgg_wgpu::train::init::{random_weights, Init};

const HYPER: SgdHyper = SgdHyper {
    lr: 0.02,
    momentum: 0.9,
    weight_decay: 5e-4,
    grad_scale: 1.0,
};
const BATCH: usize = 4;
const EPOCHS: u64 = 3;
const SEED: u64 = 9;

fn spec() -> ModelSpec {
    ModelSpec {
        config: Config::A,
        classes: 10,
        input_size: 32,
        width_divisor: 16,
    }
}

/// The test transform of every view: smallest side 40, the centre 32×32.
fn transform() -> EvalTransform {
    EvalTransform {
        q: 40,
        crop: 32,
        preprocessing: Preprocessing::mean_only([120.0, 115.0, 100.0]),
    }
}

/// The weights of `net`'s trained layers after `EPOCHS` epochs over 14 built-in
/// images (3 steps each, the last 2 images left out), and each step's mean loss: through
/// the whole network, or on its cache.
fn train(net: &Network, start: &WeightFile, cached: bool) -> (WeightFile, Vec<f64>) {
    let ctx = gpu();
    let images: Arc<dyn Dataset> =
        Arc::new(SyntheticDataset::new(SEED, Split::Train, 14, 40).unwrap());
    let end = net.frozen_end();
    let trained = match cached {
        true => net.part(end..net.ops.len()),
        false => net.clone(),
    };
    let first = trained.first_param();
    let params = ParamSet::upload_from(ctx, &net.spec, start, "start", first).unwrap();
    let plan = pollster::block_on(TrainPlan::new(ctx, &trained, params, BATCH, 1, 1)).unwrap();
    let config = LoaderConfig {
        drop_last: true,
        workers: 0,
        ..LoaderConfig::train(BATCH, SEED)
    };
    let loader = Loader::new(images.clone(), Transform::Eval(transform()), config).unwrap();
    let cache = cached.then(|| {
        let front = net.part(0..end);
        let all = ParamSet::upload(ctx, &net.spec, start, "start").unwrap();
        let job = CacheJob {
            ctx,
            front: &front,
            params: &all,
            transform: transform(),
            batch: 5,
            workers: 0,
        };
        let cached = pollster::block_on(job.run(images.clone(), 1, 1 << 30, &mut |_, _| {}));
        cached.unwrap().cache
    });
    let mut losses = Vec::new();
    for epoch in 0..EPOCHS {
        for k in 0..loader.batches_per_epoch() {
            let batch = match &cache {
                Some(cache) => cache.batch(SEED, epoch, k, BATCH, (0, 1)),
                None => loader.epoch(epoch, k).unwrap().next().unwrap().unwrap(),
            };
            let step = (epoch as usize * 3 + k) as u32;
            let stats = plan.step(ctx, &batch.images, &batch.labels, &HYPER, 1, step);
            losses.push(pollster::block_on(stats).unwrap().mean_loss());
        }
    }
    (
        pollster::block_on(plan.params.download(ctx)).unwrap(),
        losses,
    )
}

fn cached_equals_uncached(frozen_layers: usize) {
    let spec = spec();
    let trainable = Trainable {
        frozen_layers,
        conv_lr_scale: 1.0,
    };
    let net = Network::new(&spec, 0.0).with_trainable(trainable).unwrap();
    let start = random_weights(&spec, &Init::Glorot, 4);
    let (whole, whole_losses) = train(&net, &start, false);
    let (cached, cached_losses) = train(&net, &start, true);
    for (w, c) in whole_losses.iter().zip(&cached_losses) {
        assert!(
            (w - c).abs() <= 1e-5 * w.abs().max(1.0),
            "losses {whole_losses:?} against {cached_losses:?}"
        );
    }
    assert_eq!(
        cached.tensors.len(),
        spec.parameters().len() - 2 * frozen_layers
    );
    let apart = whole.max_relative_difference(&cached);
    assert!(
        apart < 1e-5,
        "cached and uncached training ended {apart:e} apart"
    );
    let moved = start.max_relative_difference(&cached);
    assert!(
        moved > 1e-3,
        "training did not move the weights ({moved:e})"
    );
}

#[test]
fn training_on_cached_pool5_equals_training_through_frozen_convs() {
    cached_equals_uncached(spec().conv_layers().len());
}

#[test]
fn training_on_cached_fc7_equals_training_through_every_frozen_layer() {
    cached_equals_uncached(spec().parameters().len() / 2 - 1);
}
