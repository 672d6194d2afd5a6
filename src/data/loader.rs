//! Batches for training and evaluation: an epoch's sample order, cut into batches, each
//! image transformed into one slot of an NCHW tensor.
//!
//! Batch `k` of an epoch is a pure function of `(dataset, transform, seed, epoch, k)`:
//! the order is shuffled from `(seed, epoch)` and each sample is augmented from
//! `(seed, epoch, image index)`. So batches are the same with 0, 1 or 8 worker threads,
//! and an interrupted epoch resumes at batch `start_batch` with exactly the batches it
//! would have had. Natively, worker threads prepare batches ahead (`prefetch.rs`);
//! with `workers: 0`, and always on wasm32, batches are made when asked for.
//!
//! An image that cannot be read ([`Error::BadImage`]) leaves a hole in its batch. An
//! evaluation batch simply comes out shorter. A training step's batch has a fixed size,
//! so there another image takes the place: drawn at random from `(seed, epoch, place)`
//! until a readable one comes up, and augmented as the missing image would have been.
//! The substitute is as much a pure function of the batch's key as the rest, so worker
//! threads, a resumed run and the processes that each make one share of a batch all
//! agree on it without telling each other anything. (Dropping unreadable images from
//! the epoch order instead would shift every later batch: every process would have to
//! learn of every drop at the same step, and checkpoints would have to carry them.)

use std::path::PathBuf;
use std::sync::Arc;

use image::RgbImage;

use super::augment::Transform;
use super::dataset::Dataset;
#[cfg(not(target_arch = "wasm32"))]
use super::prefetch::Prefetch;
use super::rng::Rng;
use crate::error::{Error, Result};

/// Domain tags that keep these streams apart from every other use of the seed.
const TAG: u64 = 0x5348_5546; // "SHUF"
const SUBSTITUTE_TAG: u64 = 0x5355_4253; // "SUBS"

/// Random draws for a readable image to fill one place before giving up: with half
/// the images unreadable, all fail with a chance of 2^-64.
const SUBSTITUTE_DRAWS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Seeds the epoch order and every augmentation.
    pub seed: u64,
    /// Shuffle the order each epoch (training); otherwise 0, 1, 2, ... (evaluation).
    pub shuffle: bool,
    /// Leave out the last batch when it would be smaller than `batch_size`.
    pub drop_last: bool,
    /// Background threads preparing batches; 0 makes them in the caller's thread.
    /// Ignored on wasm32, which has no threads.
    pub workers: usize,
    /// Batches each worker may have ready ahead of the consumer.
    pub prefetch: usize,
    /// (index, count): make only share `index` of `count` equal contiguous shares of
    /// every batch, the part one process of data-parallel training takes. (0, 1) is
    /// the whole batch. Every share is augmented as in the whole batch.
    pub shard: (usize, usize),
    /// Fill the place of an unreadable image with another image of the data set
    /// (training: a step's batch is fixed); otherwise leave it out (evaluation).
    pub replace_unreadable: bool,
}

impl LoaderConfig {
    /// Training: shuffled, every sample used, unreadable ones replaced, one worker per
    /// core ([`cores`]) each 2 batches ahead.
    pub fn train(batch_size: usize, seed: u64) -> LoaderConfig {
        LoaderConfig {
            batch_size,
            seed,
            shuffle: true,
            drop_last: false,
            workers: cores(),
            prefetch: 2,
            shard: (0, 1),
            replace_unreadable: true,
        }
    }

    /// Evaluation: in order, every sample used, unreadable ones left out.
    pub fn eval(batch_size: usize) -> LoaderConfig {
        LoaderConfig {
            shuffle: false,
            replace_unreadable: false,
            ..LoaderConfig::train(batch_size, 0)
        }
    }
}

/// The cores this process may use (1 where that is unknown), the loader's default
/// number of workers: one core augments about 140 images/s for 224-pixel crops
/// (BENCHMARKS.md), fewer than a GPU trains VGG on, so a fixed few would leave it waiting.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One batch. `len()` is `batch_size` except for a last partial batch and, in
/// evaluation, when images were unreadable.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Position of the batch in its epoch.
    pub index: usize,
    /// (len, 3, crop, crop), NCHW.
    pub images: Vec<f32>,
    /// (len)
    pub labels: Vec<u32>,
    /// Data set indices of the images of this batch (this share) that could not be
    /// read ([`Error::BadImage`]), in batch order: replaced by others when the loader
    /// replaces unreadable images, left out otherwise.
    pub unreadable: Vec<usize>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// The sample order of `epoch`: a permutation of `0..len` shuffled from `(seed, epoch)`
/// (Fisher-Yates), or the identity without `shuffle`.
pub fn epoch_order(len: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle {
        let mut rng = Rng::from_key(&[TAG, seed, epoch]);
        for i in (1..len).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
    }
    order
}

/// Everything that determines an epoch's batches, shared by the worker threads.
struct EpochPlan {
    dataset: Arc<dyn Dataset>,
    transform: Transform,
    /// (len) image indices in epoch order.
    order: Vec<usize>,
    batch_size: usize,
    shard: (usize, usize),
    replace_unreadable: bool,
    seed: u64,
    epoch: u64,
}

impl EpochPlan {
    /// Makes batch `k` (this plan's share of it).
    fn batch(&self, k: usize) -> Result<Batch> {
        let lo = k * self.batch_size;
        let hi = (lo + self.batch_size).min(self.order.len());
        let (index, count) = self.shard;
        let (lo, hi) = (
            lo + (hi - lo) * index / count,
            lo + (hi - lo) * (index + 1) / count,
        );
        let crop = self.transform.crop() as usize;
        let size = 3 * crop * crop; // one image, (3, crop, crop)
        let mut batch = Batch {
            index: k,
            images: Vec::with_capacity((hi - lo) * size),
            labels: Vec::with_capacity(hi - lo),
            unreadable: Vec::new(),
        };
        for place in lo..hi {
            let i = self.order[place];
            let (image, filled_by) = match self.dataset.image(i) {
                Ok(image) => (image, i),
                Err(Error::BadImage { path, message }) => {
                    batch.unreadable.push(i);
                    if !self.replace_unreadable {
                        continue;
                    }
                    self.substitute(place)?
                        .ok_or_else(|| all_draws_failed(path, message))?
                }
                Err(e) => return Err(e),
            };
            let at = batch.images.len();
            batch.images.resize(at + size, 0.0);
            // A substitute gets the augmentation of the image it stands in for, not the
            // one of its own place in this epoch.
            self.transform
                .apply(&image, self.seed, self.epoch, i, &mut batch.images[at..])?;
            batch.labels.push(self.dataset.label(filled_by));
        }
        Ok(batch)
    }

    /// A readable image, with its index, to fill epoch position `place`: drawn from
    /// `(seed, epoch, place)`, so the same in every process and every run. `None` when
    /// [`SUBSTITUTE_DRAWS`] draws in a row were unreadable.
    fn substitute(&self, place: usize) -> Result<Option<(RgbImage, usize)>> {
        let mut rng = Rng::from_key(&[SUBSTITUTE_TAG, self.seed, self.epoch, place as u64]);
        for _ in 0..SUBSTITUTE_DRAWS {
            let j = rng.below(self.dataset.len() as u64) as usize;
            match self.dataset.image(j) {
                Ok(image) => return Ok(Some((image, j))),
                Err(Error::BadImage { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// The error when no readable image could be found to stand in for `path`.
fn all_draws_failed(path: PathBuf, message: String) -> Error {
    Error::Data {
        path,
        message: format!(
            "cannot be read ({message}), and neither could any of the {SUBSTITUTE_DRAWS} images \
             drawn at random to take its place: most or all of the training set is unreadable. \
             Check that the files are images, and replace or delete the broken ones"
        ),
    }
}

/// Turns a data set into batches, epoch after epoch.
pub struct Loader {
    dataset: Arc<dyn Dataset>,
    transform: Transform,
    config: LoaderConfig,
}

impl Loader {
    pub fn new(
        dataset: Arc<dyn Dataset>,
        transform: Transform,
        config: LoaderConfig,
    ) -> Result<Loader> {
        if config.batch_size == 0 {
            return Err(Error::InvalidArgument {
                op: "loader",
                message: "batch size must be at least 1".into(),
            });
        }
        let (index, count) = config.shard;
        if index >= count || !config.batch_size.is_multiple_of(count) {
            return Err(Error::InvalidArgument {
                op: "loader",
                message: format!(
                    "share {index} of {count} of a batch of {}: the batch must split into {count} equal shares",
                    config.batch_size
                ),
            });
        }
        if let Transform::Train(t) = &transform {
            t.check()?;
        }
        Ok(Loader {
            dataset,
            transform,
            config,
        })
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The batches of `epoch` from batch `start_batch` on (0 for a whole epoch).
    pub fn epoch(&self, epoch: u64, start_batch: usize) -> Result<Batches> {
        let end = self.batches_per_epoch();
        if start_batch > end {
            return Err(Error::InvalidArgument {
                op: "loader",
                message: format!(
                    "cannot resume at batch {start_batch}: an epoch has {end} batches"
                ),
            });
        }
        let plan = Arc::new(EpochPlan {
            dataset: self.dataset.clone(),
            transform: self.transform,
            order: epoch_order(
                self.dataset.len(),
                self.config.seed,
                epoch,
                self.config.shuffle,
            ),
            batch_size: self.config.batch_size,
            shard: self.config.shard,
            replace_unreadable: self.config.replace_unreadable,
            seed: self.config.seed,
            epoch,
        });
        #[cfg(not(target_arch = "wasm32"))]
        let source = if self.config.workers > 0 && start_batch < end {
            let workers = self.config.workers.min(end - start_batch);
            let depth = self.config.prefetch.max(1);
            Source::Prefetch(Prefetch::start(
                Arc::new(move |k| plan.batch(k)),
                start_batch..end,
                workers,
                depth,
            )?)
        } else {
            Source::Inline(plan)
        };
        #[cfg(target_arch = "wasm32")]
        let source = Source::Inline(plan);
        Ok(Batches {
            next: start_batch,
            end,
            source,
        })
    }
}

enum Source {
    Inline(Arc<EpochPlan>),
    #[cfg(not(target_arch = "wasm32"))]
    Prefetch(Prefetch<Batch>),
}

/// The batches of one epoch, in order. Ends after the first error.
pub struct Batches {
    next: usize,
    end: usize,
    source: Source,
}

impl Batches {
    /// Batches left in this epoch.
    pub fn remaining(&self) -> usize {
        self.end - self.next
    }
}

impl Iterator for Batches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.next >= self.end {
            return None;
        }
        let k = self.next;
        let batch = match &self.source {
            Source::Inline(plan) => plan.batch(k),
            #[cfg(not(target_arch = "wasm32"))]
            Source::Prefetch(prefetch) => prefetch.recv(k),
        };
        self.next = if batch.is_ok() { k + 1 } else { self.end };
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::augment::TrainAugment;
    use crate::data::{Preprocessing, Split, SyntheticDataset};

    fn loader(count: usize, batch: usize, workers: usize) -> Loader {
        let data = SyntheticDataset::new(5, Split::Train, count, 32).unwrap();
        loader_of(Arc::new(data), LoaderConfig::train(batch, 11), workers)
    }

    fn loader_of(data: Arc<dyn Dataset>, config: LoaderConfig, workers: usize) -> Loader {
        let augment = TrainAugment {
            s_min: 32,
            s_max: 40,
            crop: 28,
            flip: true,
            colour: None,
            preprocessing: Preprocessing::mean_only([128.0; 3]),
        };
        let config = LoaderConfig { workers, ..config };
        Loader::new(data, Transform::Train(augment), config).unwrap()
    }

    /// The built-in images with those at `unreadable` failing as broken files do.
    struct WithUnreadable {
        images: SyntheticDataset,
        unreadable: Vec<usize>,
    }

    impl Dataset for WithUnreadable {
        fn len(&self) -> usize {
            self.images.len()
        }
        fn class_names(&self) -> &[String] {
            self.images.class_names()
        }
        fn label(&self, index: usize) -> u32 {
            self.images.label(index)
        }
        fn image(&self, index: usize) -> Result<RgbImage> {
            match self.unreadable.contains(&index) {
                true => Err(Error::BadImage {
                    path: format!("{index}.jpg").into(),
                    message: "cannot decode the image".into(),
                }),
                false => self.images.image(index),
            }
        }
    }

    /// A loader over 44 built-in images, those at `unreadable` failing to decode.
    fn with_unreadable(unreadable: &[usize], config: LoaderConfig, workers: usize) -> Loader {
        let data = WithUnreadable {
            images: SyntheticDataset::new(5, Split::Train, 44, 32).unwrap(),
            unreadable: unreadable.to_vec(),
        };
        loader_of(Arc::new(data), config, workers)
    }

    const UNREADABLE: [usize; 4] = [3, 10, 17, 40];

    fn all(loader: &Loader, epoch: u64, start: usize) -> Vec<Batch> {
        loader
            .epoch(epoch, start)
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    }

    #[test]
    fn order_is_a_seeded_permutation() {
        let a = epoch_order(100, 1, 0, true);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, 1, 0, true));
        assert_ne!(a, epoch_order(100, 1, 1, true), "epochs differ");
        assert_ne!(a, epoch_order(100, 2, 0, true), "seeds differ");
        assert_eq!(epoch_order(5, 1, 0, false), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn batches_identical_with_any_number_of_workers() {
        let inline = all(&loader(45, 8, 0), 3, 0);
        assert_eq!(inline.len(), 6);
        assert_eq!(inline[5].len(), 5, "last partial batch");
        assert_eq!(inline[0].images.len(), 8 * 3 * 28 * 28);
        for workers in [1, 2, 3] {
            assert_eq!(
                all(&loader(45, 8, workers), 3, 0),
                inline,
                "{workers} workers"
            );
        }
        assert_ne!(all(&loader(45, 8, 2), 4, 0), inline, "next epoch differs");
    }

    #[test]
    fn resume_mid_epoch_gives_the_remaining_batches() {
        let l = loader(40, 8, 2);
        let whole = all(&l, 1, 0);
        assert_eq!(all(&l, 1, 3), whole[3..].to_vec());
        assert!(all(&l, 1, 5).is_empty());
        assert!(l.epoch(1, 6).is_err());
    }

    #[test]
    fn drop_last_and_every_sample_once() {
        let mut l = loader(45, 8, 2);
        let mut seen: Vec<u32> = all(&l, 0, 0)
            .iter()
            .flat_map(|b| b.labels.clone())
            .collect();
        seen.sort();
        let mut want: Vec<u32> = (0..45).map(|i| i % 10).collect();
        want.sort();
        assert_eq!(seen, want);
        l.config.drop_last = true;
        assert_eq!(l.batches_per_epoch(), 5);
        assert!(all(&l, 0, 0).iter().all(|b| b.len() == 8));
    }

    /// Dropping a half-read epoch stops its workers (the test would hang otherwise).
    #[test]
    fn abandoning_an_epoch_stops_the_workers() {
        let l = loader(200, 4, 2);
        let mut batches = l.epoch(0, 0).unwrap();
        assert!(batches.next().unwrap().is_ok());
        drop(batches);
    }

    /// Each unreadable image cost its whole training step: the batch came out short.
    #[test]
    fn unreadable_images_are_replaced_in_full_training_batches() {
        let config = LoaderConfig::train(8, 11);
        let clean = all(&with_unreadable(&[], config, 0), 2, 0);
        let batches = all(&with_unreadable(&UNREADABLE, config, 0), 2, 0);
        let order = epoch_order(44, 11, 2, true);
        let size = 3 * 28 * 28;
        let mut found: Vec<usize> = Vec::new();
        for (k, (batch, clean)) in batches.iter().zip(&clean).enumerate() {
            assert_eq!(
                batch.len(),
                clean.len(),
                "batch {k} is as long as without them"
            );
            assert_eq!(batch.images.len(), batch.len() * size);
            let places = &order[k * 8..k * 8 + batch.len()];
            for (slot, i) in places.iter().enumerate() {
                let image = |b: &Batch| b.images[slot * size..(slot + 1) * size].to_vec();
                if UNREADABLE.contains(i) {
                    assert_ne!(image(batch), image(clean), "batch {k}: image {i} replaced");
                } else {
                    assert_eq!(image(batch), image(clean), "batch {k}: image {i} kept");
                    assert_eq!(batch.labels[slot], clean.labels[slot]);
                }
            }
            assert_eq!(
                batch.unreadable,
                places
                    .iter()
                    .copied()
                    .filter(|i| UNREADABLE.contains(i))
                    .collect::<Vec<_>>(),
            );
            found.extend(&batch.unreadable);
        }
        found.sort();
        assert_eq!(found, UNREADABLE, "each listed once an epoch");
        for workers in [1, 2] {
            let again = all(&with_unreadable(&UNREADABLE, config, workers), 2, 0);
            assert_eq!(
                again, batches,
                "{workers} workers pick the same substitutes"
            );
        }
        let resumed = all(&with_unreadable(&UNREADABLE, config, 2), 2, 3);
        assert_eq!(resumed, batches[3..], "a resumed epoch too");
    }

    #[test]
    fn shares_of_a_batch_with_unreadable_images_put_together_are_the_batch() {
        let config = LoaderConfig::train(8, 11);
        let whole = all(&with_unreadable(&UNREADABLE, config, 0), 1, 0);
        assert!(whole.iter().any(|b| !b.unreadable.is_empty()));
        let shares: Vec<Vec<Batch>> = (0..4)
            .map(|index| {
                let share = LoaderConfig {
                    shard: (index, 4),
                    ..config
                };
                all(&with_unreadable(&UNREADABLE, share, 2), 1, 0)
            })
            .collect();
        for (k, batch) in whole.iter().enumerate() {
            let images: Vec<f32> = shares.iter().flat_map(|s| s[k].images.clone()).collect();
            assert_eq!(images, batch.images, "batch {k}");
            let labels: Vec<u32> = shares.iter().flat_map(|s| s[k].labels.clone()).collect();
            assert_eq!(labels, batch.labels, "batch {k}");
            let unreadable: Vec<usize> = shares
                .iter()
                .flat_map(|s| s[k].unreadable.clone())
                .collect();
            assert_eq!(unreadable, batch.unreadable, "batch {k}");
        }
    }

    #[test]
    fn evaluation_leaves_unreadable_images_out() {
        let batches = all(
            &with_unreadable(&UNREADABLE, LoaderConfig::eval(8), 2),
            0,
            0,
        );
        let lengths: Vec<usize> = batches.iter().map(Batch::len).collect();
        assert_eq!(lengths, [7, 7, 7, 8, 8, 3]);
        let unreadable: Vec<usize> = batches.iter().flat_map(|b| b.unreadable.clone()).collect();
        assert_eq!(unreadable, UNREADABLE);
    }

    #[test]
    fn a_training_set_of_unreadable_images_fails_naming_one() {
        let every: Vec<usize> = (0..44).collect();
        let mut batches = with_unreadable(&every, LoaderConfig::train(8, 11), 0)
            .epoch(0, 0)
            .unwrap();
        match batches.next().unwrap() {
            Err(Error::Data { path, message }) => {
                assert!(path.to_string_lossy().ends_with(".jpg"), "{path:?}");
                assert!(
                    message.contains("most or all of the training set"),
                    "{message}"
                );
            }
            other => panic!("expected a Data error, got {other:?}"),
        }
        assert!(batches.next().is_none(), "the epoch ends at the error");
    }

    #[test]
    fn shards_of_a_batch_put_together_are_the_batch() {
        let whole = all(&loader(24, 8, 0), 1, 0);
        let shards: Vec<Vec<Batch>> = (0..4)
            .map(|index| {
                let l = loader(24, 8, 2);
                let config = LoaderConfig {
                    shard: (index, 4),
                    ..*l.config()
                };
                let sharded = Loader::new(l.dataset().clone(), l.transform, config).unwrap();
                all(&sharded, 1, 0)
            })
            .collect();
        for (k, batch) in whole.iter().enumerate() {
            let mut images = Vec::new();
            let mut labels = Vec::new();
            for shard in &shards {
                assert_eq!(shard[k].len(), 2);
                images.extend_from_slice(&shard[k].images);
                labels.extend_from_slice(&shard[k].labels);
            }
            assert_eq!(
                images, batch.images,
                "batch {k}: same images, same augmentation"
            );
            assert_eq!(labels, batch.labels);
        }
        let l = loader(24, 8, 0);
        let uneven = LoaderConfig {
            shard: (0, 3),
            ..*l.config()
        };
        assert!(Loader::new(l.dataset().clone(), l.transform, uneven).is_err());
    }
}
