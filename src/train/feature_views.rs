//! A data set's [`FeatureCache`], computed on the GPU: every view of every image
//! ([`view_of`]) through the network's frozen front, a batch of images at a time, the
//! images read and transformed by the loader's worker threads meanwhile.

use std::sync::Arc;

use image::RgbImage;

use super::feature_cache::{view_of, FeatureCache};
use crate::data::{Dataset, EvalTransform, Loader, LoaderConfig, Transform};
use crate::error::Result;
use crate::graph::{FeaturePlan, Network, ParamSet};
use crate::kernels::GpuContext;

/// Each image of a data set `views` times in a row, as [`view_of`] makes them.
struct ViewsOf {
    images: Arc<dyn Dataset>,
    views: usize,
}

impl Dataset for ViewsOf {
    fn len(&self) -> usize {
        self.images.len() * self.views
    }

    fn class_names(&self) -> &[String] {
        self.images.class_names()
    }

    fn label(&self, index: usize) -> u32 {
        self.images.label(index / self.views)
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        let image = self.images.image(index / self.views)?;
        Ok(view_of(&image, index % self.views))
    }
}

/// How a data set's features are computed.
pub struct CacheJob<'a> {
    pub ctx: &'a GpuContext,
    /// The frozen ops ([`Network::part`]) and the parameters they use.
    pub front: &'a Network,
    pub params: &'a ParamSet,
    /// The transform of every view before the front: the network's test transform.
    pub transform: EvalTransform,
    /// Images per pass of the front (each with all its views).
    pub batch: usize,
    /// The loader's threads.
    pub workers: usize,
}

/// What caching a data set gave.
pub struct Cached {
    pub cache: FeatureCache,
    /// Data set indices of the images that could not be read, left out of the cache.
    pub unreadable: Vec<usize>,
}

impl CacheJob<'_> {
    /// The cache of `images`, `views` per image, bounded by `max_bytes` (checked
    /// before any work), calling `progress(images done, images)` after each batch.
    pub async fn run(
        &self,
        images: Arc<dyn Dataset>,
        views: usize,
        max_bytes: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Cached> {
        let ctx = self.ctx;
        let shape = self.front.activation_shape(self.front.ops.len(), 1)[1..].to_vec();
        let mut cache = FeatureCache::new(shape, views, max_bytes);
        cache.check_room(images.len())?;
        let total = images.len();
        let rows = self.batch.max(1) * views;
        let loader = Loader::new(
            Arc::new(ViewsOf { images, views }),
            Transform::Eval(self.transform),
            LoaderConfig {
                workers: self.workers,
                ..LoaderConfig::eval(rows)
            },
        )?;
        let mut plans: Vec<FeaturePlan> = Vec::new();
        let mut unreadable = Vec::new();
        for batch in loader.epoch(0, 0)? {
            let batch = batch?;
            let first = batch.index * rows / views;
            let last = ((batch.index + 1) * rows / views).min(total);
            let features = match batch.is_empty() {
                true => Vec::new(),
                false => {
                    let plan = match plans.iter().position(|p| p.batch == batch.len()) {
                        Some(i) => &plans[i],
                        None => {
                            let plan = FeaturePlan::new(ctx, self.front, self.params, batch.len());
                            plans.push(plan.await?);
                            plans.last().expect("just pushed")
                        }
                    };
                    plan.run(ctx, &batch.images).await?
                }
            };
            // The image of each row the loader gave: an unreadable view left a hole.
            let row_images: Vec<usize> = (first * views..last * views)
                .filter(|r| !batch.unreadable.contains(r))
                .map(|r| r / views)
                .collect();
            let len = cache.view_len();
            for image in first..last {
                let rows = row_images.iter().filter(|&&i| i == image).count();
                match row_images.iter().position(|&i| i == image) {
                    Some(row) if rows == views => {
                        let values = &features[row * len..(row + views) * len];
                        cache.push(batch.labels[row], values)?;
                    }
                    _ => unreadable.push(image),
                }
            }
            progress(last, total);
        }
        Ok(Cached { cache, unreadable })
    }
}
