//! What a training run is told to do.

use std::path::PathBuf;
use std::str::FromStr;

use super::data_source::DataSource;
use super::init::{layer_names, Init, RandomLayer};
use crate::data::Preprocessing;
use crate::error::{Error, Result};
use crate::graph::Trainable;
use crate::model::{Config, ModelSpec};

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
    /// The initial learning rate as given; None for the default, see
    /// [`TrainOptions::learning_rate`].
    pub lr: Option<f32>,
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
    /// How inputs are normalised.
    pub normalize: Normalize,
    /// Layers that do not train (fine-tuning).
    pub freeze: Freeze,
    /// Multiplier on the conv layers' learning rate (fine-tuning: e.g. 0.1).
    pub lr_features: f32,
    /// Compute the frozen layers' output once per image and view and train the rest on
    /// it ([`super::FeatureCache`]).
    pub cache_features: bool,
}

impl TrainOptions {
    /// The images of one SGD step, over every replica and process.
    pub fn images_per_step(&self) -> usize {
        self.batch * self.accumulate
    }

    /// The paper's initial learning rate, for training from scratch.
    pub const PAPER_LR: f32 = 1e-2;
    /// Fine-tuning's default, a tenth of the paper's: at the paper's rate the first
    /// steps throw a pretrained network's weights off (a VGG-16 on 16 photos: training
    /// loss 4.5 → 15.5 in 4 steps; at 1e-3 it fell).
    pub const FINE_TUNING_LR: f32 = 1e-3;

    /// The initial learning rate: the one given, else fine-tuning's default for
    /// `--init pretrained:`, else the paper's.
    pub fn learning_rate(&self) -> f32 {
        match (self.lr, &self.init) {
            (Some(lr), _) => lr,
            (None, Init::Pretrained(_)) => Self::FINE_TUNING_LR,
            (None, _) => Self::PAPER_LR,
        }
    }

    /// What the training plans update, for the network `spec`.
    pub fn trainable(&self, spec: &ModelSpec) -> Trainable {
        Trainable {
            frozen_layers: match self.freeze {
                Freeze::Nothing => 0,
                Freeze::Features => spec.conv_layers().len(),
                Freeze::Layers(n) => n,
            },
            conv_lr_scale: self.lr_features,
        }
    }

    /// Refuses `--cache-features` without frozen layers: there would be nothing to cache.
    pub fn check_cache_features(&self) -> Result<()> {
        let frozen = !matches!(self.freeze, Freeze::Nothing | Freeze::Layers(0));
        if !self.cache_features || frozen {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            op: "--cache-features",
            message: "keeps the output of frozen layers, and --freeze leaves none frozen: \
                      add --freeze features (every conv layer) or --freeze N (N ≥ 1), or drop --cache-features"
                .into(),
        })
    }

    /// Refuses to freeze a layer that starts random (`random`, from the start `init`
    /// made): frozen, it would stay random for the whole run.
    pub fn check_frozen(&self, spec: &ModelSpec, random: &[RandomLayer]) -> Result<()> {
        let frozen: Vec<String> = layer_names(spec)
            .into_iter()
            .take(self.trainable(spec).frozen_layers)
            .collect();
        let random_frozen: Vec<RandomLayer> = random
            .iter()
            .filter(|r| frozen.contains(&r.layer))
            .cloned()
            .collect();
        if random_frozen.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            op: "--freeze",
            message: format!(
                "frozen layers would stay random: --freeze {} freezes {}, which start random. \
                 Freeze only layers a file gives (--init pretrained:FILE of this configuration: leave out \
                 --config, --crop and --width-divisor to take the file's), fewer layers (--freeze N), or none",
                self.freeze,
                RandomLayer::list(&random_frozen),
            ),
        })
    }
}

/// Input normalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Normalize {
    /// Subtract the training set's mean RGB (the paper).
    DataMean,
    /// Also divide by the training set's per-channel standard deviation.
    DataMeanStd,
    /// A given one: a pretrained network's, which its features were learned with.
    Fixed(Preprocessing),
}

/// Which leading layers training leaves as they are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Freeze {
    Nothing,
    /// Every conv layer: only the classifier trains.
    Features,
    /// The first N parameterised layers (convs, then FC layers).
    Layers(usize),
}

/// Parsed from `--freeze`; the error is the message clap shows after naming the option.
impl FromStr for Freeze {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Freeze, String> {
        match s.trim() {
            "none" | "0" => Ok(Freeze::Nothing),
            "features" => Ok(Freeze::Features),
            n => n.parse().map(Freeze::Layers).map_err(|_| {
                format!("'{s}' is not `features` (every conv layer), `none`, or a number of layers")
            }),
        }
    }
}

impl std::fmt::Display for Freeze {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Freeze::Nothing => write!(f, "none"),
            Freeze::Features => write!(f, "features"),
            Freeze::Layers(n) => write!(f, "{n}"),
        }
    }
}
