//! The output of a network's frozen front, computed once for each view of each
//! training image and kept, so that the layers being taught train on it for every
//! epoch without running the front again (`train --freeze features --cache-features`,
//! and the page's teaching). With every conv layer of VGG-16 frozen, what is kept is
//! pool5: 512×7×7 = 25 088 floats, 100 KB per view.
//!
//! The views stand for the augmentation the front can no longer see: each image at
//! the network's test transform (smallest side rescaled to the smallest training scale,
//! centre crop) and its mirror image. A step's batch is drawn as the image loader draws
//! one: the epoch's order shuffled from `(seed, epoch)`, and for each image one of its
//! views, drawn from `(seed, epoch, index)`.

use std::sync::Arc;

use image::RgbImage;

use crate::data::epoch_order;
use crate::data::rng::Rng;
use crate::data::Batch;
use crate::error::{Error, Result};

/// Views kept of each image: the image, and its mirror image.
pub const VIEWS: usize = 2;

/// The most bytes of features a training run keeps, its training and validation
/// caches together (`train --cache-features`): 8 GiB, 80 000 VGG-16 pool5 views.
pub const RUN_MAX_BYTES: u64 = 8 << 30;

/// Domain tag of the view draws ("VIEW").
const VIEW_TAG: u64 = 0x5649_4557;

/// View `view` of `image` (0: itself, 1: mirrored left to right).
pub fn view_of(image: &RgbImage, view: usize) -> RgbImage {
    match view {
        0 => image.clone(),
        _ => image::imageops::flip_horizontal(image),
    }
}

/// Features of labelled examples, `views` per example.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureCache {
    /// One view's features: the shape of the activation kept, batch left out.
    pub shape: Vec<usize>,
    pub views: usize,
    /// The most bytes of features it may hold.
    pub max_bytes: usize,
    /// (examples, views, features...)
    values: Vec<f32>,
    /// (examples)
    labels: Vec<u32>,
}

impl FeatureCache {
    /// An empty cache of views of `shape`, `views` per example, bounded by `max_bytes`.
    pub fn new(shape: Vec<usize>, views: usize, max_bytes: usize) -> FeatureCache {
        FeatureCache {
            shape,
            views: views.max(1),
            max_bytes,
            values: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Floats of one view.
    pub fn view_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes of one example's views.
    pub fn bytes_per_example(&self) -> usize {
        4 * self.views * self.view_len()
    }

    /// Examples held.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Checks that `examples` more examples fit under the bound, before any is
    /// computed: the error names the cost and what to do.
    pub fn check_room(&self, examples: usize) -> Result<()> {
        let per = self.bytes_per_example();
        let total = (self.len() + examples).saturating_mul(per);
        if total <= self.max_bytes {
            return Ok(());
        }
        let mib = |b: usize| b as f64 / (1 << 20) as f64;
        Err(Error::InvalidArgument {
            op: "feature cache",
            message: format!(
                "{} images × {} views × {} floats ({:.1} KiB an image) make {:.0} MiB, over the cache's bound of {:.0} MiB: \
                 use fewer images, freeze more layers (a smaller activation is kept), or (train) leave out --cache-features",
                self.len() + examples,
                self.views,
                self.view_len(),
                per as f64 / 1024.0,
                mib(total),
                mib(self.max_bytes),
            ),
        })
    }

    /// Adds an example of class `label`: its views one after another.
    pub fn push(&mut self, label: u32, views: &[f32]) -> Result<()> {
        if views.len() != self.views * self.view_len() {
            return Err(Error::Shape {
                op: "feature cache",
                message: format!(
                    "an example needs {} views of {} floats, got {} floats",
                    self.views,
                    self.view_len(),
                    views.len()
                ),
            });
        }
        self.check_room(1)?;
        self.values.extend_from_slice(views);
        self.labels.push(label);
        Ok(())
    }

    /// View `view` of example `example`.
    pub fn view(&self, example: usize, view: usize) -> &[f32] {
        let len = self.view_len();
        &self.values[(example * self.views + view) * len..][..len]
    }

    /// Every view of example `example`, one after another.
    pub fn example(&self, example: usize) -> &[f32] {
        let len = self.views * self.view_len();
        &self.values[example * len..][..len]
    }

    /// Steps in an epoch of batches of `batch` (the last partial one left out); a
    /// cache of fewer examples than `batch` makes one step, its examples repeated.
    pub fn batches_per_epoch(&self, batch: usize) -> usize {
        self.epoch_len(batch) / batch.max(1)
    }

    /// Examples in an epoch: all of them, repeated to fill one batch when too few.
    fn epoch_len(&self, batch: usize) -> usize {
        match self.is_empty() {
            true => 0,
            false => self.len().max(batch),
        }
    }

    /// Batch `k` of `epoch` (of `batch` examples), share `shard.0` of `shard.1` equal
    /// shares of it: the examples in the epoch's shuffled order, each as one of its
    /// views drawn at random. `images` holds the features (len, shape...).
    pub fn batch(
        &self,
        seed: u64,
        epoch: u64,
        k: usize,
        batch: usize,
        shard: (usize, usize),
    ) -> Batch {
        let order = epoch_order(self.epoch_len(batch), seed, epoch, true);
        self.batch_in(&order, seed, epoch, k, batch, shard)
    }

    /// The batches of `epoch` from batch `start` on, as [`Self::batch`] makes them, the
    /// epoch's order shuffled once for all of them (a step of a large cache does not
    /// shuffle it again).
    pub fn epoch(
        self: &Arc<Self>,
        seed: u64,
        epoch: u64,
        start: usize,
        batch: usize,
        shard: (usize, usize),
    ) -> impl Iterator<Item = Batch> + 'static {
        let order = epoch_order(self.epoch_len(batch), seed, epoch, true);
        let cache = self.clone();
        (start..self.batches_per_epoch(batch))
            .map(move |k| cache.batch_in(&order, seed, epoch, k, batch, shard))
    }

    /// Batch `k` of an epoch whose shuffled order is `order`.
    fn batch_in(
        &self,
        order: &[usize],
        seed: u64,
        epoch: u64,
        k: usize,
        batch: usize,
        shard: (usize, usize),
    ) -> Batch {
        let share = batch / shard.1.max(1);
        let places = &order[k * batch + shard.0 * share..][..share];
        let mut images = Vec::with_capacity(share * self.view_len());
        let mut labels = Vec::with_capacity(share);
        for &place in places {
            let example = place % self.len();
            let view = match self.views {
                1 => 0,
                v => Rng::from_key(&[VIEW_TAG, seed, epoch, place as u64]).below(v as u64) as usize,
            };
            images.extend_from_slice(self.view(example, view));
            labels.push(self.labels[example]);
        }
        Batch {
            index: k,
            images,
            labels,
            unreadable: Vec::new(),
        }
    }

    /// Every example's view 0 in order, in batches of at most `batch`: validation.
    pub fn in_order(&self, batch: usize) -> impl Iterator<Item = Batch> + '_ {
        (0..self.len())
            .step_by(batch.max(1))
            .enumerate()
            .map(move |(k, start)| {
                let end = (start + batch.max(1)).min(self.len());
                Batch {
                    index: k,
                    images: (start..end)
                        .flat_map(|e| self.view(e, 0).to_vec())
                        .collect(),
                    labels: self.labels[start..end].to_vec(),
                    unreadable: Vec::new(),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` examples of 2 views of 3 floats: example e's view v holds 10e + v, its label
    /// e % 3.
    fn cache(n: usize) -> FeatureCache {
        let mut cache = FeatureCache::new(vec![3], 2, 1 << 20);
        for e in 0..n {
            let views: Vec<f32> = (0..2).flat_map(|v| [(10 * e + v) as f32; 3]).collect();
            cache.push((e % 3) as u32, &views).unwrap();
        }
        cache
    }

    #[test]
    fn an_epoch_takes_every_example_once_as_one_of_its_views() {
        let cache = cache(10);
        assert_eq!(
            cache.batches_per_epoch(4),
            2,
            "the last partial batch is left out"
        );
        let mut seen = Vec::new();
        let mut views = [0; 2];
        for epoch in 0..20 {
            let values: Vec<f32> = (0..2)
                .flat_map(|k| cache.batch(7, epoch, k, 4, (0, 1)).images)
                .collect();
            for (row, label) in values
                .chunks(3)
                .zip((0..2).flat_map(|k| cache.batch(7, epoch, k, 4, (0, 1)).labels))
            {
                let (example, view) = (row[0] as usize / 10, row[0] as usize % 10);
                assert_eq!(label, (example % 3) as u32);
                views[view] += 1;
                if epoch == 0 {
                    seen.push(example);
                }
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen.len(),
            8,
            "8 distinct examples in an epoch of 2 batches of 4"
        );
        assert!(
            views[0] > 40 && views[1] > 40,
            "both views drawn: {views:?}"
        );
    }

    #[test]
    fn shares_of_a_batch_make_the_whole_batch() {
        let cache = cache(12);
        let whole = cache.batch(3, 1, 1, 6, (0, 1));
        let shares: Vec<Batch> = (0..3).map(|r| cache.batch(3, 1, 1, 6, (r, 3))).collect();
        let images: Vec<f32> = shares.iter().flat_map(|b| b.images.clone()).collect();
        assert_eq!(images, whole.images);
    }

    #[test]
    fn an_epoch_gives_the_batches_one_at_a_time_would() {
        let cache = Arc::new(cache(13));
        let all: Vec<Batch> = cache.epoch(5, 2, 1, 4, (1, 2)).collect();
        assert_eq!(all.len(), 2, "batches 1 and 2 of 3");
        for (k, batch) in (1..).zip(all) {
            assert_eq!(batch, cache.batch(5, 2, k, 4, (1, 2)));
        }
    }

    #[test]
    fn too_few_examples_are_repeated_to_fill_a_batch() {
        let cache = cache(3);
        assert_eq!(cache.batches_per_epoch(8), 1);
        assert_eq!(cache.batch(0, 0, 0, 8, (0, 1)).labels.len(), 8);
    }

    #[test]
    fn validation_takes_view_0_of_every_example_in_order() {
        let cache = cache(5);
        let batches: Vec<Batch> = cache.in_order(2).collect();
        assert_eq!(batches.len(), 3);
        let firsts: Vec<f32> = batches
            .iter()
            .flat_map(|b| b.images.chunks(3).map(|r| r[0]).collect::<Vec<_>>())
            .collect();
        assert_eq!(firsts, [0.0, 10.0, 20.0, 30.0, 40.0]);
    }

    #[test]
    fn a_cache_over_its_bound_is_refused_naming_the_cost() {
        let mut cache = FeatureCache::new(vec![512, 7, 7], 2, 1 << 20);
        let message = cache.check_room(100).unwrap_err().to_string();
        assert!(
            message.contains("100 images × 2 views × 25088 floats (196.0 KiB an image)"),
            "{message}"
        );
        assert!(
            message.contains("over the cache's bound of 1 MiB"),
            "{message}"
        );
        let wrong = cache.push(0, &[0.0; 5]).unwrap_err().to_string();
        assert!(wrong.contains("2 views of 25088 floats"), "{wrong}");
    }
}
