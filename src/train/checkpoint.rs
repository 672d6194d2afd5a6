//! Training checkpoints: one safetensors file holding the parameters under
//! torchvision's names (so a checkpoint is also a loadable model), the SGD momenta under
//! `momentum.<name>`, and in its metadata the model ([`ModelMeta`]) and where training
//! stands ([`TrainState`]). Written atomically, so a kill never leaves a broken file.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::run_settings::RunSettings;
use super::schedule::PlateauSchedule;
use crate::error::{Error, Result};
use crate::graph::StepStats;
use crate::model::{ModelMeta, WeightFile};

const MOMENTUM_PREFIX: &str = "momentum.";
const STATE_KEY: &str = "vgg_wgpu.train_state";

/// Everything besides the tensors that a resumed run needs to continue exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The epoch in progress (0-based) and the next batch of it to train on.
    pub epoch: usize,
    pub next_batch: usize,
    /// SGD steps taken so far (keys the dropout masks).
    pub global_step: u64,
    pub seed: u64,
    pub schedule: PlateauSchedule,
    /// The in-progress epoch's training totals so far.
    pub epoch_loss_sum: f64,
    pub epoch_top1_hits: f64,
    pub epoch_samples: usize,
    /// Training time so far, seconds.
    pub seconds: f64,
    /// The options that define the run; `None` in checkpoints written before they
    /// were recorded.
    #[serde(default)]
    pub settings: Option<RunSettings>,
    /// Training images (data set indices) found unreadable and listed so far, so that
    /// a resumed run does not list them again. Empty in older checkpoints.
    #[serde(default)]
    pub listed_unreadable: BTreeSet<usize>,
    /// Places of the in-progress epoch's batches so far whose image was unreadable and
    /// replaced by another.
    #[serde(default)]
    pub epoch_replaced_images: usize,
    /// The run's first step's training loss, what [`super::rising_loss`] compares
    /// with (None before it, and in checkpoints written before it was kept: then the
    /// first step after resuming).
    #[serde(default)]
    pub first_step_loss: Option<f64>,
    /// Whether the rising-loss warning was given: once per run.
    #[serde(default)]
    pub warned_rising_loss: bool,
}

impl TrainState {
    /// Before the first step.
    pub fn new(seed: u64, schedule: PlateauSchedule, settings: RunSettings) -> TrainState {
        TrainState {
            epoch: 0,
            next_batch: 0,
            global_step: 0,
            seed,
            schedule,
            epoch_loss_sum: 0.0,
            epoch_top1_hits: 0.0,
            epoch_samples: 0,
            seconds: 0.0,
            settings: Some(settings),
            listed_unreadable: BTreeSet::new(),
            epoch_replaced_images: 0,
            first_step_loss: None,
            warned_rising_loss: false,
        }
    }

    /// Moves on to the first batch of the next epoch with fresh epoch totals.
    pub fn start_next_epoch(&mut self) {
        self.epoch += 1;
        self.next_batch = 0;
        self.epoch_loss_sum = 0.0;
        self.epoch_top1_hits = 0.0;
        self.epoch_samples = 0;
        self.epoch_replaced_images = 0;
    }

    pub fn epoch_stats(&self) -> StepStats {
        StepStats {
            samples: self.epoch_samples,
            loss_sum: self.epoch_loss_sum,
            top1_hits: self.epoch_top1_hits,
            top5_hits: 0.0,
        }
    }
}

pub struct Checkpoint {
    pub meta: ModelMeta,
    pub state: TrainState,
    pub params: WeightFile,
    pub momenta: WeightFile,
}

impl Checkpoint {
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut file = self.params.clone();
        for (name, tensor) in &self.momenta.tensors {
            file.tensors
                .insert(format!("{MOMENTUM_PREFIX}{name}"), tensor.clone());
        }
        self.meta.write(&mut file);
        file.metadata.insert(
            STATE_KEY.into(),
            serde_json::to_string(&self.state).expect("state serialises"),
        );
        file.save(path)
    }

    pub fn load(path: &Path) -> Result<Checkpoint> {
        let origin = path.display().to_string();
        let file = WeightFile::load(path)?;
        let bad = |message: String| Error::WeightFile {
            path: origin.clone(),
            message,
        };
        let meta = ModelMeta::read(&file, &origin)?
            .ok_or_else(|| bad("is not a vgg-wgpu checkpoint: it has no model metadata".into()))?;
        let state_json = file.metadata.get(STATE_KEY).ok_or_else(|| {
            bad("is a model, not a training checkpoint: it has no training state to resume".into())
        })?;
        let state = serde_json::from_str(state_json).map_err(|e| Error::WeightFormat {
            path: origin.clone(),
            message: format!("has an unreadable training state: {e}"),
            source: Box::new(e),
        })?;
        let (mut params, mut momenta) = (WeightFile::default(), WeightFile::default());
        for (name, tensor) in file.tensors {
            match name.strip_prefix(MOMENTUM_PREFIX) {
                Some(param) => momenta.tensors.insert(param.to_string(), tensor),
                None => params.tensors.insert(name, tensor),
            };
        }
        Ok(Checkpoint {
            meta,
            state,
            params,
            momenta,
        })
    }
}

impl Checkpoint {
    /// A resumed run trains the classes it started with: a class folder added, removed
    /// or renamed since is named here, before the classifier's shape would only say
    /// that a tensor differs.
    pub fn check_classes(&self, now: &[String], origin: &Path) -> Result<()> {
        let then = &self.meta.class_names;
        if then.as_slice() == now {
            return Ok(());
        }
        let missing = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|c| !b.contains(c)).cloned().collect()
        };
        let (added, removed) = (missing(now, then), missing(then, now));
        let change = match (added.is_empty(), removed.is_empty()) {
            (true, true) => "the same classes in another order".to_string(),
            (false, true) => format!("new: {}", added.join(", ")),
            (true, false) => format!("gone: {}", removed.join(", ")),
            (false, false) => format!("new: {}; gone: {}", added.join(", "), removed.join(", ")),
        };
        Err(Error::InvalidArgument {
            op: "--resume",
            message: format!(
                "{} was trained on {} classes and the data now has {} ({change}); a run cannot change its classes: \
                 restore the data as it was, or start a new run from this one with \
                 --init pretrained:{} --out <another folder>",
                origin.display(),
                then.len(),
                now.len(),
                origin.display()
            ),
        })
    }
}
