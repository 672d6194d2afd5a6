//! SGD in the tab, one step per call, on the built-in data set ([`super::Trainer`]),
//! and what every step reports (the [`super::Teacher`]'s too).

use wasm_bindgen::prelude::*;

use super::now_ms;
use crate::data::{Batches, Loader};
use crate::error::{Error, Result};
use crate::graph::{StepStats, TrainPlan};
use crate::kernels::GpuContext;
use crate::model::{ModelMeta, WeightFile};
use crate::shape::SgdHyper;

/// A training plan, the loader that feeds it, and where in its epochs it is. The
/// learning rate is constant (no validation-driven schedule in the page).
pub(super) struct TabTraining {
    pub plan: TrainPlan,
    /// What the weight files it writes say the network is.
    pub meta: ModelMeta,
    loader: Loader,
    batches: Batches,
    pub hyper: SgdHyper,
    seed: u32,
    epoch: u64,
    step: u64,
}

impl TabTraining {
    /// SGD with the paper's momentum 0.9 and weight decay 5e-4 at rate `lr`.
    pub fn new(
        plan: TrainPlan,
        meta: ModelMeta,
        loader: Loader,
        lr: f32,
        seed: u32,
    ) -> Result<TabTraining> {
        let batches = loader.epoch(0, 0)?;
        Ok(TabTraining {
            plan,
            meta,
            loader,
            batches,
            hyper: SgdHyper {
                lr,
                momentum: 0.9,
                weight_decay: 5e-4,
                grad_scale: 1.0,
            },
            seed,
            epoch: 0,
            step: 0,
        })
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.loader.batches_per_epoch()
    }

    /// One SGD step on the next batch of the epoch (a new epoch after the last one).
    pub async fn step(&mut self, ctx: &GpuContext) -> Result<StepReport> {
        let start = now_ms();
        let batch = match self.batches.next() {
            Some(batch) => batch?,
            None => {
                self.epoch += 1;
                self.batches = self.loader.epoch(self.epoch, 0)?;
                self.batches.next().ok_or_else(|| Error::InvalidArgument {
                    op: "training",
                    message: "the data set makes no full batch".into(),
                })??
            }
        };
        let stats = self
            .plan
            .step(
                ctx,
                &batch.images,
                &batch.labels,
                &self.hyper,
                self.seed,
                self.step as u32,
            )
            .await?;
        self.step += 1;
        let seconds = (now_ms() - start) / 1000.0;
        Ok(StepReport::new(
            self.step,
            self.epoch,
            batch.index,
            &stats,
            seconds,
        ))
    }

    /// The weights as they are now, with the metadata.
    pub async fn weight_file(&self, ctx: &GpuContext) -> Result<WeightFile> {
        let mut weights = self.plan.params.download(ctx).await?;
        self.meta.write(&mut weights);
        Ok(weights)
    }
}

/// What one training step measured.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct StepReport {
    /// Steps done so far, this one included.
    pub step: u32,
    pub epoch: u32,
    /// This step's batch within its epoch.
    pub batch: u32,
    /// Mean cross-entropy of the batch (before the update).
    pub loss: f64,
    /// Top-1 accuracy on the batch (dropout on).
    pub accuracy: f64,
    /// Images (or examples' kept features) per second of this step, batch preparation
    /// included.
    pub images_per_s: f64,
}

impl StepReport {
    /// The report of step `step` (counted from 1) on batch `batch` of `epoch`, which
    /// took `seconds`.
    pub fn new(step: u64, epoch: u64, batch: usize, stats: &StepStats, seconds: f64) -> StepReport {
        StepReport {
            step: step as u32,
            epoch: epoch as u32,
            batch: batch as u32,
            loss: stats.mean_loss(),
            accuracy: stats.top1_hits / stats.samples.max(1) as f64,
            images_per_s: stats.samples as f64 / seconds.max(1e-9),
        }
    }
}
