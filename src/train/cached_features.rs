//! `train --cache-features`: the frozen layers' output for each training image, in
//! each of its [`VIEWS`] views, and for each validation image at the test transform
//! alone (what validation computes), kept for the whole run. A resumed run reads them
//! back from its folder's `features.cache` when they were computed from the same
//! frozen weights, data and transform; otherwise they are computed on the first device
//! before training, and saved there.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use super::feature_cache::{FeatureCache, RUN_MAX_BYTES, VIEWS};
use super::feature_file::{self, CacheKey};
use super::feature_views::{CacheJob, Cached};
use super::options::TrainOptions;
use super::trainer::Event;
use super::unreadable_images;
use crate::data::{Dataset, EvalTransform, Split};
use crate::error::Result;
use crate::graph::{Network, ParamSet};
use crate::kernels::tune::fnv1a;
use crate::kernels::GpuContext;
use crate::model::WeightFile;

/// A run's training and validation features.
pub(super) struct Caches {
    pub train: FeatureCache,
    pub val: FeatureCache,
    /// The key to save them under; `None` when they were read back from the folder.
    pub unsaved: Option<CacheKey>,
}

/// What the features are computed from.
pub(super) struct CacheSource<'a> {
    pub ctx: &'a GpuContext,
    /// The whole network, trainable as the run trains it: its frozen front is cached.
    pub net: &'a Network,
    pub weights: &'a WeightFile,
    /// The test transform, of every view.
    pub transform: EvalTransform,
    pub opts: &'a TrainOptions,
    pub train_set: &'a Arc<dyn Dataset>,
    pub val_set: &'a Arc<dyn Dataset>,
}

impl CacheSource<'_> {
    /// The caches, checked against their bound before any work: read back from
    /// `reuse` (the folder's file, when this run resumes it) if their key matches,
    /// else computed. Training images the front could not read are left out, and
    /// named unless `listed` (those named in this run) holds them already.
    pub async fn caches(
        &self,
        reuse: Option<&Path>,
        listed: &mut BTreeSet<usize>,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Caches> {
        let (train, val) = self.empty_caches()?;
        let key = self.key(&train);
        if let Some(path) = reuse {
            match feature_file::load(path, &key, train.clone(), val.clone()) {
                Ok((train, val)) => {
                    on_event(Event::Note(format!(
                        "{} reused: {}",
                        path.display(),
                        describe(&train, &val)
                    )));
                    let unsaved = None;
                    return Ok(Caches {
                        train,
                        val,
                        unsaved,
                    });
                }
                Err(why) => on_event(Event::Note(format!(
                    "{} not reused, {why}: computing the features again",
                    path.display()
                ))),
            }
        }
        let caches = self.compute(train, val, key, listed, on_event).await?;
        on_event(Event::Note(format!(
            "features computed: {}",
            describe(&caches.train, &caches.val)
        )));
        Ok(caches)
    }

    /// The frozen ops: what the caches keep the output of.
    fn front(&self) -> Network {
        self.net.part(0..self.net.frozen_end())
    }

    /// Empty caches of the front's output, with room for every image: the training
    /// cache within [`RUN_MAX_BYTES`], the validation cache within what it leaves.
    fn empty_caches(&self) -> Result<(FeatureCache, FeatureCache)> {
        let front = self.front();
        let shape = front.activation_shape(front.ops.len(), 1)[1..].to_vec();
        let max = RUN_MAX_BYTES as usize;
        let train = FeatureCache::new(shape.clone(), VIEWS, max);
        train.check_room(self.train_set.len())?;
        let left = max - self.train_set.len() * train.bytes_per_example();
        let val = FeatureCache::new(shape, 1, left);
        val.check_room(self.val_set.len())?;
        Ok((train, val))
    }

    fn key(&self, train: &FeatureCache) -> CacheKey {
        CacheKey {
            frozen_weights: self.frozen_weights_hash(),
            data: self.data_hash(),
            transform: format!("{:?}", self.transform),
            views: train.views,
            shape: train.shape.clone(),
        }
    }

    fn frozen_weights_hash(&self) -> String {
        let mut text = String::new();
        let first = self.net.trainable.first_param();
        for p in &self.net.spec.parameters()[..first] {
            let values = self.weights.tensors.get(&p.name).map(|(_, v)| v.as_slice());
            let hash = fnv1a(bytemuck::cast_slice(values.unwrap_or_default()));
            let _ = writeln!(text, "{} {:?} {hash:016x}", p.name, p.shape);
        }
        format!("{:016x}", fnv1a(text.as_bytes()))
    }

    fn data_hash(&self) -> String {
        let mut text = format!("{:?} seed {}", self.opts.data, self.opts.seed);
        for set in [self.train_set, self.val_set] {
            let _ = write!(text, "\n{:?} {}:", set.class_names(), set.len());
            for i in 0..set.len() {
                let _ = write!(text, " {}", set.label(i));
            }
        }
        format!("{:016x}", fnv1a(text.as_bytes()))
    }

    /// Both caches computed on the first device, the whole network's parameters
    /// uploaded for it meanwhile.
    async fn compute(
        &self,
        train: FeatureCache,
        val: FeatureCache,
        key: CacheKey,
        listed: &mut BTreeSet<usize>,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Caches> {
        let front = self.front();
        let params = ParamSet::upload(self.ctx, &self.net.spec, self.weights, "start weights")?;
        let job = CacheJob {
            ctx: self.ctx,
            front: &front,
            params: &params,
            transform: self.transform,
            batch: self.opts.batch,
            workers: self.opts.workers,
        };
        let train = run_job(&job, self.train_set, train, Split::Train, on_event).await?;
        let val = run_job(&job, self.val_set, val, Split::Val, on_event).await?;
        for index in train.unreadable {
            if listed.insert(index) {
                let what = "left out of the cached features";
                let note = unreadable_images::note(self.train_set.as_ref(), index, what);
                on_event(Event::Note(note));
            }
        }
        Ok(Caches {
            train: train.cache,
            val: val.cache,
            unsaved: Some(key),
        })
    }
}

/// `images` through `job` into a cache like `empty`, reported as caching `split`.
async fn run_job(
    job: &CacheJob<'_>,
    images: &Arc<dyn Dataset>,
    empty: FeatureCache,
    split: Split,
    on_event: &mut dyn FnMut(Event),
) -> Result<Cached> {
    let mut progress = |images_done, images| {
        on_event(Event::Caching {
            split,
            images_done,
            images,
        })
    };
    progress(0, images.len());
    job.run(images.clone(), empty.views, empty.max_bytes, &mut progress)
        .await
}

/// What the caches hold and cost, for the notes.
fn describe(train: &FeatureCache, val: &FeatureCache) -> String {
    let shape: Vec<String> = train.shape.iter().map(|d| d.to_string()).collect();
    let bytes = train.len() * train.bytes_per_example() + val.len() * val.bytes_per_example();
    format!(
        "{} training images × {} views and {} validation images × 1 view, each view {} floats ({}, {:.1} KiB): {:.1} MiB",
        train.len(),
        train.views,
        val.len(),
        train.view_len(),
        shape.join("×"),
        4.0 * train.view_len() as f64 / 1024.0,
        bytes as f64 / (1 << 20) as f64
    )
}
