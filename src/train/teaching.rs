//! Teaching a network new classes from examples in memory, on cached features: what the
//! page's "teach it your own classes" runs. Each example's frozen convolutions run once
//! per view as soon as it is added ([`Examples`]), before the head to teach is chosen;
//! [`Teaching`] then trains only the head ([`Head`]) on what is kept, after running any
//! frozen FC layers below the head on it once.
//!
//! The frozen layers run on the engine that classifies ([`FrozenLayers`]): the CPU
//! engine on adapters that are CPUs, WebGPU plans elsewhere. The head trains on the GPU,
//! its plan holding the head's parameters alone.

use std::ops::Range;

use image::RgbImage;

use super::feature_cache::{view_of, FeatureCache, VIEWS};
use super::new_classes::NewClasses;
use crate::cpu_engine::{CpuModel, Pause};
use crate::data::{Batch, EvalTransform};
use crate::error::{Error, Result};
use crate::graph::{FeaturePlan, Network, ParamSet, StepStats, TrainPlan, Trainable};
use crate::kernels::GpuContext;
use crate::model::{ModelMeta, ModelSpec, WeightFile, IMAGE_CHANNELS};
use crate::shape::SgdHyper;

/// The most bytes of features a page keeps: its wasm memory (4 GiB at most) also holds
/// the model (553 MB for VGG-16). Pool5 of VGG-16 at 224 is 100 KB a view: 5000
/// examples of 2 views.
pub const MAX_CACHE_BYTES: usize = 1 << 30;

/// Where a network's frozen layers run.
#[allow(async_fn_in_trait)] // used with concrete types only, never `dyn`
pub trait FrozenLayers {
    /// Ops `range` of `spec`'s plain network on `x`, the activation that feeds op
    /// `range.start` for `batch` samples.
    async fn run(
        &mut self,
        ctx: &GpuContext,
        range: Range<usize>,
        x: Vec<f32>,
        batch: usize,
    ) -> Result<Vec<f32>>;
}

/// The CPU engine, pausing as `P` says between chunks of work.
pub struct CpuFrozen<P> {
    pub model: CpuModel,
    pub pause: P,
}

impl<P: Pause> FrozenLayers for CpuFrozen<P> {
    async fn run(
        &mut self,
        _ctx: &GpuContext,
        range: Range<usize>,
        x: Vec<f32>,
        batch: usize,
    ) -> Result<Vec<f32>> {
        self.model.run_part(range, &x, batch, &mut self.pause).await
    }
}

/// WebGPU: a [`FeaturePlan`] for each part and batch size asked for, compiled once.
pub struct GpuFrozen {
    pub net: Network,
    /// Shared with the classifier they came from.
    pub params: ParamSet,
    plans: Vec<(Range<usize>, FeaturePlan)>,
}

impl GpuFrozen {
    pub fn new(net: Network, params: ParamSet) -> GpuFrozen {
        GpuFrozen {
            net,
            params,
            plans: Vec::new(),
        }
    }
}

impl FrozenLayers for GpuFrozen {
    async fn run(
        &mut self,
        ctx: &GpuContext,
        range: Range<usize>,
        x: Vec<f32>,
        batch: usize,
    ) -> Result<Vec<f32>> {
        let found = self
            .plans
            .iter()
            .position(|(r, p)| *r == range && p.batch == batch);
        let index = match found {
            Some(i) => i,
            None => {
                let part = self.net.part(range.clone());
                let plan = FeaturePlan::new(ctx, &part, &self.params, batch).await?;
                self.plans.push((range, plan));
                self.plans.len() - 1
            }
        };
        self.plans[index].1.run(ctx, &x).await
    }
}

/// Where a network's convolutions end: the op before which every conv layer is
/// frozen and the output is the same from step to step (VGG's pool5).
pub fn conv_end(spec: &ModelSpec) -> Result<usize> {
    let trainable = Trainable {
        frozen_layers: spec.conv_layers().len(),
        conv_lr_scale: 1.0,
    };
    Ok(Network::new(spec, 0.0)
        .with_trainable(trainable)?
        .frozen_end())
}

/// The examples added so far, each kept as its frozen convolutions' output for every
/// view: computed as it is added, whatever head is taught later.
pub struct Examples {
    pub cache: FeatureCache,
    /// The op where the kept activation feeds in.
    pub conv_end: usize,
    /// How every view is made an input: the network's test transform.
    transform: EvalTransform,
    /// Views that ran through the frozen convolutions so far.
    pub front_passes: usize,
}

impl Examples {
    /// No examples yet, for the network `spec` trained as `meta` says.
    pub fn new(spec: &ModelSpec, meta: &ModelMeta) -> Result<Examples> {
        let conv_end = conv_end(spec)?;
        let shape = Network::new(spec, 0.0).activation_shape(conv_end, 1)[1..].to_vec();
        Ok(Examples {
            cache: FeatureCache::new(shape, VIEWS, MAX_CACHE_BYTES),
            conv_end,
            transform: EvalTransform {
                q: meta.train_scale[0],
                crop: spec.input_size as u32,
                preprocessing: meta.preprocessing,
            },
            front_passes: 0,
        })
    }

    /// Adds `image` as an example of class `label`: its views through the frozen
    /// convolutions, on `frozen`.
    pub async fn add(
        &mut self,
        ctx: &GpuContext,
        frozen: &mut impl FrozenLayers,
        image: &RgbImage,
        label: u32,
    ) -> Result<()> {
        self.cache.check_room(1)?;
        let crop = self.transform.crop as usize;
        let len = IMAGE_CHANNELS * crop * crop;
        let mut inputs = vec![0.0; VIEWS * len];
        for (view, out) in inputs.chunks_mut(len).enumerate() {
            self.transform.apply(&view_of(image, view), out)?;
        }
        let features = frozen.run(ctx, 0..self.conv_end, inputs, VIEWS).await?;
        self.front_passes += VIEWS;
        self.cache.push(label, &features)
    }

    /// Examples of each of `classes` classes.
    pub fn counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &label in self.cache.labels() {
            if let Some(n) = counts.get_mut(label as usize) {
                *n += 1;
            }
        }
        counts
    }
}

/// What one step of teaching did.
pub struct TaughtStep {
    pub stats: StepStats,
    pub epoch: u64,
    /// The step's batch within its epoch.
    pub batch: usize,
}

/// A head being taught new classes on the kept features of [`Examples`].
pub struct Teaching {
    /// What is taught (its starting weights already on the GPU, dropped here).
    pub new: NewClasses,
    /// The trained ops: the network from where the frozen ones end.
    head: Network,
    /// The examples' features where the head starts (the examples' own cache when
    /// that is where it starts).
    cache: Option<FeatureCache>,
    plan: TrainPlan,
    pub hyper: SgdHyper,
    batch: usize,
    seed: u64,
    epoch: u64,
    /// Examples in the current epoch.
    epoch_examples: usize,
    next_batch: usize,
    steps: u64,
}

impl Teaching {
    /// Teaching of `new`'s head with SGD (the paper's momentum 0.9 and weight decay
    /// 5e-4) at rate `lr` on batches of `batch` examples: the plan holds the head's
    /// parameters alone.
    pub async fn new(
        ctx: &GpuContext,
        mut new: NewClasses,
        batch: usize,
        lr: f32,
        seed: u64,
    ) -> Result<Teaching> {
        let net = Network::new(&new.spec, 0.5).with_trainable(new.trainable)?;
        let head = net.part(net.frozen_end()..net.ops.len());
        let first = head.first_param();
        // The starting tensors go to the GPU and are dropped here (VGG-16's fc6 and fc7
        // are 470 MB).
        let start = std::mem::take(&mut new.weights);
        let params = ParamSet::upload_from(ctx, &new.spec, &start, "the start", first)?;
        drop(start);
        let plan = TrainPlan::new(ctx, &head, params, batch.max(1), 1, 1).await?;
        Ok(Teaching {
            new,
            head,
            cache: None,
            plan,
            hyper: SgdHyper {
                lr,
                momentum: 0.9,
                weight_decay: 5e-4,
                grad_scale: 1.0,
            },
            batch: batch.max(1),
            seed,
            epoch: 0,
            epoch_examples: 0,
            next_batch: 0,
            steps: 0,
        })
    }

    /// The op of the whole network where the head starts.
    fn head_start(&self) -> usize {
        Network::new(&self.new.spec, 0.0).ops.len() - self.head.ops.len()
    }

    /// The examples' features where the head starts: those examples added since the
    /// last step run through the frozen FC layers below the head first (once each).
    async fn features<'e>(
        &'e mut self,
        ctx: &GpuContext,
        frozen: &mut impl FrozenLayers,
        examples: &'e Examples,
    ) -> Result<&'e FeatureCache> {
        let (from, to) = (examples.conv_end, self.head_start());
        if from == to {
            return Ok(&examples.cache);
        }
        let shape = self.head.input.clone();
        let cache = self.cache.get_or_insert_with(|| {
            FeatureCache::new(shape, examples.cache.views, examples.cache.max_bytes)
        });
        for example in cache.len()..examples.cache.len() {
            let views = examples.cache.example(example).to_vec();
            let out = frozen.run(ctx, from..to, views, cache.views).await?;
            cache.push(examples.cache.labels()[example], &out)?;
        }
        Ok(cache)
    }

    /// One SGD step on the next batch of the examples' features (a new epoch once one
    /// ends, or once examples were added).
    pub async fn step(
        &mut self,
        ctx: &GpuContext,
        frozen: &mut impl FrozenLayers,
        examples: &Examples,
    ) -> Result<TaughtStep> {
        self.check_examples(examples)?;
        let (batch_size, seed) = (self.batch, self.seed);
        let (epoch_examples, next_batch, epoch_now) =
            (self.epoch_examples, self.next_batch, self.epoch);
        let cache = self.features(ctx, frozen, examples).await?;
        let steps = cache.batches_per_epoch(batch_size);
        // Examples added since the epoch began start a new epoch over all of them.
        let new_epoch = next_batch >= steps || cache.len() != epoch_examples;
        let (epoch, k) = match (new_epoch, next_batch) {
            (true, 0) => (epoch_now, 0), // the first step
            (true, _) => (epoch_now + 1, 0),
            (false, k) => (epoch_now, k),
        };
        let batch: Batch = cache.batch(seed, epoch, k, batch_size, (0, 1));
        self.epoch_examples = cache.len();
        let step = self.steps as u32;
        let stats = self
            .plan
            .step(
                ctx,
                &batch.images,
                &batch.labels,
                &self.hyper,
                seed as u32,
                step,
            )
            .await?;
        (self.epoch, self.next_batch, self.steps) = (epoch, k + 1, self.steps + 1);
        Ok(TaughtStep {
            stats,
            epoch,
            batch: k,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Steps in an epoch over the examples.
    pub fn steps_per_epoch(&self, examples: &Examples) -> usize {
        examples.cache.batches_per_epoch(self.batch)
    }

    /// Refuses to step while a class has no example.
    fn check_examples(&self, examples: &Examples) -> Result<()> {
        let counts = examples.counts(self.new.spec.classes);
        let empty: Vec<&str> = self
            .new
            .meta
            .class_names
            .iter()
            .zip(&counts)
            .filter(|(_, &n)| n == 0)
            .map(|(name, _)| name.as_str())
            .collect();
        match empty.is_empty() {
            true => Ok(()),
            false => Err(Error::InvalidArgument {
                op: "new classes",
                message: format!(
                    "no examples of {}: add one at least to every class",
                    empty.join(", ")
                ),
            }),
        }
    }

    /// The taught layers' tensors as they are now (no metadata): the head alone, the
    /// frozen layers being the source's.
    pub async fn head_weights(&self, ctx: &GpuContext) -> Result<WeightFile> {
        self.plan.params.download(ctx).await
    }

    /// The index of the first parameter the head trains.
    pub fn first_param(&self) -> usize {
        self.head.first_param()
    }
}
