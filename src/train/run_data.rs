//! What a run trains and validates on: images through the loaders or, with
//! `--cache-features`, the frozen layers' output kept for them. The loop draws its
//! batches from either alike.

use std::sync::Arc;

use super::feature_cache::FeatureCache;
use crate::data::{Batch, Loader};
use crate::error::Result;

/// The batches of an epoch, or of a validation pass.
pub(super) type Batches<'a> = Box<dyn Iterator<Item = Result<Batch>> + 'a>;

pub(super) struct RunData {
    /// The training images, and how a step's batch is drawn: its size, seed and this
    /// process's share.
    pub train: Loader,
    pub val: Loader,
    /// The training and validation features, drawn from instead of the images.
    pub cached: Option<(Arc<FeatureCache>, FeatureCache)>,
}

impl RunData {
    pub fn batches_per_epoch(&self) -> usize {
        match &self.cached {
            Some((train, _)) => train.batches_per_epoch(self.train.config().batch_size),
            None => self.train.batches_per_epoch(),
        }
    }

    /// The batches of `epoch` from batch `start` on: each a share of a step's batch,
    /// drawn in the same order however many processes share it.
    pub fn epoch(&self, epoch: u64, start: usize) -> Result<Batches<'static>> {
        let Some((train, _)) = &self.cached else {
            return Ok(Box::new(self.train.epoch(epoch, start)?));
        };
        let config = self.train.config();
        let (seed, size, shard) = (config.seed, config.batch_size, config.shard);
        Ok(Box::new(
            train.epoch(seed, epoch, start, size, shard).map(Ok),
        ))
    }

    /// Every validation example, in order.
    pub fn validation(&self) -> Result<Batches<'_>> {
        match &self.cached {
            Some((_, val)) => Ok(Box::new(val.in_order(self.val.config().batch_size).map(Ok))),
            None => Ok(Box::new(self.val.epoch(0, 0)?)),
        }
    }
}
