//! What a training run is told to do.

use std::path::PathBuf;

use super::data_source::DataSource;
use super::init::Init;
use crate::model::Config;

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub config: Config,
    /// Training crop = network input size (a multiple of 32).
    pub crop: usize,
    /// Divides every layer's width (1 = the paper's network).
    pub width_divisor: usize,
    pub data: DataSource,
    /// Stop after this many epochs (the schedule may stop earlier).
    pub epochs: usize,
    /// Images per GPU pass over all replicas (each of R replicas takes batch / R),
    /// and passes accumulated per SGD step: the step's batch is batch × accumulate
    /// however many replicas share it.
    pub batch: usize,
    pub accumulate: usize,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub dropout: f32,
    /// Epochs without validation improvement before the rate is divided by 10.
    pub patience: usize,
    /// Stop once the rate has been divided this many times.
    pub max_reductions: usize,
    /// Training scale S (smallest side before cropping): fixed (min == max) or jittered.
    pub scale: (u32, u32),
    pub init: Init,
    pub out: PathBuf,
    pub resume: bool,
    /// Delete an earlier run in `out` (checkpoint, model, metrics) instead of refusing.
    pub overwrite: bool,
    pub seed: u64,
    /// Write a checkpoint every this many steps (and at every epoch's end).
    pub checkpoint_every: usize,
    /// Write a step record to metrics.jsonl every this many steps.
    pub log_every: usize,
    /// Data-loading threads.
    pub workers: usize,
    /// Fail on an undecodable image instead of skipping it.
    pub strict: bool,
    /// Also divide inputs by the training set's per-channel standard deviation (the
    /// paper only subtracts the mean).
    pub normalize_std: bool,
}
