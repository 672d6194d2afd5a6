//! The training loop: data → [`DataParallel`] steps (one replica per device, one
//! share of every batch per process) → validation per epoch → the paper's
//! learning-rate schedule, with metrics, checkpoints and exact resumption.
//!
//! [`train`] runs named phases: set-up ([`Run::set_up`], in `setup.rs`), then per
//! epoch [`Run::train_epoch`], [`Run::validate`] and [`Run::end_epoch`] (record,
//! schedule, checkpoint), and at the end [`Run::save_model`].

use std::collections::hash_map::{Entry, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::checkpoint::{Checkpoint, TrainState};
use super::metrics::{EpochRecord, MetricsLog, StepRecord};
use super::options::TrainOptions;
use super::rising_loss;
use super::run_data::RunData;
use super::run_folder::{checkpoint_path, model_path, RunFolder};
use super::schedule::Decision;
use super::unreadable_images;
use crate::data::{Batch, Split};
use crate::error::{Error, Result};
use crate::graph::{Collective, DataParallel, EvalPlan, ExchangeStats, Network, StepStats};
use crate::kernels::GpuContext;
use crate::model::{ModelMeta, WeightFile};
use crate::shape::SgdHyper;

/// What the loop reports as it goes (the CLI draws it).
pub enum Event<'a> {
    Started {
        steps_per_epoch: usize,
        epochs: usize,
        epoch: usize,
        next_batch: usize,
        parameters: usize,
        train_images: usize,
        val_images: usize,
        /// The learning rate the run starts (or resumes) at.
        lr: f32,
    },
    Step {
        epoch: usize,
        batch: usize,
        steps_per_epoch: usize,
        loss: f64,
        top1_err: f64,
        lr: f32,
        images_per_s: f64,
    },
    Validating {
        epoch: usize,
        images: usize,
    },
    /// `--cache-features` before training: the frozen layers' output computed for
    /// `images_done` of the `images` of `split`.
    Caching {
        split: Split,
        images_done: usize,
        images: usize,
    },
    Epoch(&'a EpochRecord),
    Note(String),
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Training ran to its end; the final model is at this path.
    Finished(PathBuf),
    /// Stopped on request; the checkpoint to resume from is at this path.
    Interrupted(PathBuf),
}

/// Trains as `opts` says until the end, or until `stop` is set (then checkpoints and
/// returns [`Outcome::Interrupted`]), with one replica on each of `devices` and, across
/// processes, `collective` (process 0 alone writes checkpoints, metrics and the model).
pub async fn train(
    devices: &[GpuContext],
    collective: &dyn Collective,
    opts: &TrainOptions,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    let mut run = Run::set_up(devices, collective, opts, on_event).await?;
    on_event(run.started());
    for note in std::mem::take(&mut run.start_notes) {
        on_event(Event::Note(note));
    }
    while run.state.epoch < opts.epochs {
        let epoch_start = Instant::now();
        if run.train_epoch(stop, on_event).await? == EpochEnd::Interrupted {
            return Ok(Outcome::Interrupted(checkpoint_path(&opts.out)));
        }
        let val = run.validate(on_event).await?;
        if run.end_epoch(&val, epoch_start, on_event).await? == Decision::Stop {
            break;
        }
    }
    run.save_model().await?;
    Ok(Outcome::Finished(model_path(&opts.out)))
}

/// A run once set up: its data, compiled plans and where training stands.
pub(super) struct Run<'a> {
    pub(super) devices: &'a [GpuContext],
    pub(super) collective: &'a dyn Collective,
    pub(super) opts: &'a TrainOptions,
    /// The network trained: the whole one, or with `--cache-features` the part after
    /// the frozen layers whose output is cached.
    pub(super) net: Network,
    /// The frozen tensors that `net` leaves out (none when it is the whole network),
    /// written with its own into checkpoints and the model.
    pub(super) frozen: WeightFile,
    /// Written into checkpoints and the model: config, class names, preprocessing.
    pub(super) meta: ModelMeta,
    pub(super) examples: RunData,
    pub(super) parallel: DataParallel<'a>,
    /// Inference plans for validation on the first device, by batch size (every
    /// replica holds the same weights).
    pub(super) eval_plans: HashMap<usize, EvalPlan>,
    /// Process 0's log; `None` on the other processes.
    pub(super) metrics: Option<MetricsLog>,
    /// Process 0's locked output folder, held until the run ends; `None` elsewhere.
    pub(super) _folder: Option<RunFolder>,
    pub(super) state: TrainState,
    /// Shown once the run has started (e.g. a resume whose options went unchecked).
    pub(super) start_notes: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum EpochEnd {
    Completed,
    Interrupted,
}

/// A step's results over every process's share.
struct StepResult {
    stats: StepStats,
    exchange: ExchangeStats,
}

impl Run<'_> {
    fn started(&self) -> Event<'static> {
        Event::Started {
            steps_per_epoch: self.examples.batches_per_epoch(),
            epochs: self.opts.epochs,
            epoch: self.state.epoch,
            next_batch: self.state.next_batch,
            parameters: self.net.spec.parameter_count(),
            train_images: self.examples.train.dataset().len(),
            val_images: self.examples.val.dataset().len(),
            lr: self.state.schedule.lr,
        }
    }

    /// Process 0 alone writes checkpoints, metrics and the model.
    fn writes_outputs(&self) -> bool {
        self.collective.rank() == 0
    }

    /// Trains the rest of the current epoch, or until a stop request (after a checkpoint).
    async fn train_epoch(
        &mut self,
        stop: &AtomicBool,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<EpochEnd> {
        let epoch = self.state.epoch;
        let mut step_clock = Instant::now();
        for batch in self.examples.epoch(epoch as u64, self.state.next_batch)? {
            let batch = batch?;
            self.list_unreadable(&batch, on_event)?;
            self.state.next_batch = batch.index + 1;
            let step = self.step(&batch).await?;
            let loss = step.stats.mean_loss();
            if !loss.is_finite() {
                return Err(self.diverged(&format!("the training loss is {loss}")));
            }
            let seconds = step_clock.elapsed().as_secs_f64();
            step_clock = Instant::now();
            self.record_step(batch.index, &step, seconds, on_event)?;
            // Read after the step is reported, so a stop asked for then ends this step.
            let stop_requested = self.any_process_asked_to_stop(stop)?;
            let every = self.opts.checkpoint_every as u64;
            let checkpoint_due = every > 0 && self.state.global_step.is_multiple_of(every);
            if self.writes_outputs() && (stop_requested || checkpoint_due) {
                self.checkpoint().await?;
            }
            if stop_requested {
                return Ok(EpochEnd::Interrupted);
            }
        }
        let replaced = self.state.epoch_replaced_images;
        if replaced > 0 {
            on_event(Event::Note(format!(
                "epoch {}: {replaced} unreadable image(s) replaced by others of the training set",
                epoch + 1
            )));
        }
        Ok(EpochEnd::Completed)
    }

    /// Counts the unreadable images of this step's batch (every process's share) for
    /// the epoch, and lists those not listed before in this run.
    fn list_unreadable(&mut self, batch: &Batch, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        let unreadable = unreadable_images::pooled(self.collective, &batch.unreadable)?;
        self.state.epoch_replaced_images += unreadable.len();
        for index in unreadable {
            if self.state.listed_unreadable.insert(index) {
                let train_set = self.examples.train.dataset().as_ref();
                let fate = "other images take its place";
                on_event(Event::Note(unreadable_images::note(train_set, index, fate)));
            }
        }
        Ok(())
    }

    /// Stops a diverged run before it logs NaN or checkpoints non-finite weights: the
    /// last checkpoint stays the last good one.
    fn diverged(&self, what: &str) -> Error {
        Error::Diverged {
            what: what.into(),
            step: self.state.global_step + 1,
            epoch: self.state.epoch + 1,
            lr: self.state.schedule.lr,
            checkpoint: checkpoint_path(&self.opts.out),
        }
    }

    fn any_process_asked_to_stop(&self, stop: &AtomicBool) -> Result<bool> {
        let mut requests = [stop.load(Ordering::SeqCst) as u32 as f32];
        self.collective.all_reduce_sum(&mut requests)?;
        Ok(requests[0] > 0.0)
    }

    /// One SGD step on `batch` (this process's share), and its statistics summed over
    /// the processes.
    async fn step(&self, batch: &Batch) -> Result<StepResult> {
        let hyper = SgdHyper {
            lr: self.state.schedule.lr,
            momentum: self.opts.momentum,
            weight_decay: self.opts.weight_decay,
            grad_scale: 1.0,
        };
        let seed = self.opts.seed;
        let (local, exchange) = self
            .parallel
            .step(
                &batch.images,
                &batch.labels,
                &hyper,
                (seed ^ (seed >> 32)) as u32,
                self.state.global_step as u32,
                self.collective.rank() * self.parallel.batch(),
                self.collective,
            )
            .await?;
        let mut totals = [
            local.loss_sum as f32,
            local.top1_hits as f32,
            local.top5_hits as f32,
        ];
        self.collective.all_reduce_sum(&mut totals)?;
        Ok(StepResult {
            stats: StepStats {
                samples: local.samples * self.collective.processes(),
                loss_sum: totals[0] as f64,
                top1_hits: totals[1] as f64,
                top5_hits: totals[2] as f64,
            },
            exchange,
        })
    }

    /// Adds a finished step to the state, reports it and logs it.
    fn record_step(
        &mut self,
        batch: usize,
        step: &StepResult,
        seconds: f64,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<()> {
        let stats = &step.stats;
        let state = &mut self.state;
        state.global_step += 1;
        state.epoch_loss_sum += stats.loss_sum;
        state.epoch_top1_hits += stats.top1_hits;
        state.epoch_samples += stats.samples;
        state.seconds += seconds;
        state.first_step_loss.get_or_insert(stats.mean_loss());
        let images_per_s = stats.samples as f64 / seconds.max(1e-9);
        let top1_err = 1.0 - stats.top1_hits / stats.samples as f64;
        on_event(Event::Step {
            epoch: state.epoch,
            batch,
            steps_per_epoch: self.examples.batches_per_epoch(),
            loss: stats.mean_loss(),
            top1_err,
            lr: state.schedule.lr,
            images_per_s,
        });
        let every = self.opts.log_every as u64;
        match self.metrics.as_mut() {
            Some(metrics) if every > 0 && state.global_step.is_multiple_of(every) => {
                metrics.write(&StepRecord {
                    kind: "step",
                    epoch: state.epoch,
                    step: state.global_step,
                    images: state.global_step * self.opts.images_per_step() as u64,
                    loss: stats.mean_loss(),
                    top1_err,
                    lr: state.schedule.lr,
                    images_per_s,
                    exchange_bytes: step.exchange.bytes,
                    exchange_seconds: step.exchange.seconds,
                })
            }
            _ => Ok(()),
        }
    }

    /// Loss and hits over the validation set, on the first device.
    async fn validate(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<StepStats> {
        on_event(Event::Validating {
            epoch: self.state.epoch,
            images: self.examples.val.dataset().len(),
        });
        let ctx = &self.devices[0];
        let params = &self.parallel.plans[0].params;
        let mut val = StepStats::default();
        for batch in self.examples.validation()? {
            let batch = batch?;
            if batch.is_empty() {
                continue;
            }
            let eval = match self.eval_plans.entry(batch.len()) {
                Entry::Occupied(plan) => plan.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(EvalPlan::new(ctx, &self.net, params, batch.len()).await?)
                }
            };
            val.add(&eval.evaluate(ctx, &batch.images, &batch.labels).await?);
        }
        // NaN logits rank as hits in the loss kernel: never score them.
        let loss = val.mean_loss();
        if !loss.is_finite() {
            return Err(self.diverged(&format!("the validation loss is {loss}")));
        }
        Ok(val)
    }

    /// Records the finished epoch, lets the schedule decide, moves on to the next
    /// epoch and checkpoints there.
    async fn end_epoch(
        &mut self,
        val: &StepStats,
        epoch_start: Instant,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Decision> {
        let state = &mut self.state;
        let train = state.epoch_stats();
        let record = EpochRecord {
            kind: "epoch",
            epoch: state.epoch + 1,
            step: state.global_step,
            images: state.global_step * self.opts.images_per_step() as u64,
            loss: train.mean_loss(),
            lr: state.schedule.lr,
            images_per_s: train.samples as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9),
            train_top1_err: 1.0 - train.top1_hits / train.samples.max(1) as f64,
            val_loss: val.mean_loss(),
            val_top1_err: 1.0 - val.top1_hits / val.samples.max(1) as f64,
            val_top5_err: 1.0 - val.top5_hits / val.samples.max(1) as f64,
            seconds: state.seconds,
        };
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.write(&record)?;
        }
        on_event(Event::Epoch(&record));
        let rising = match (state.warned_rising_loss, state.first_step_loss) {
            (false, Some(first)) => {
                rising_loss::warning(first, record.epoch, record.loss, record.lr)
            }
            _ => None,
        };
        if let Some(warning) = rising {
            state.warned_rising_loss = true;
            on_event(Event::Note(warning));
        }
        let decision = state.schedule.observe(record.val_top1_err);
        match decision {
            Decision::Continue => {}
            Decision::Reduced(lr) => on_event(Event::Note(format!(
                "validation error stopped improving: learning rate divided by 10, now {lr:.1e}"
            ))),
            Decision::Stop => on_event(Event::Note("the learning rate has been divided the maximum number of times and validation stopped improving again: done".into())),
        }
        state.start_next_epoch();
        if self.writes_outputs() {
            self.redraw_curves(on_event);
            self.checkpoint().await?;
        }
        Ok(decision)
    }

    /// `curves.svg` from the whole log: a picture that cannot be written is said,
    /// and training goes on.
    fn redraw_curves(&self, on_event: &mut dyn FnMut(Event)) {
        if let Err(e) = crate::plot::redraw_run(&self.opts.out) {
            on_event(Event::Note(format!("warning: curves.svg not updated: {e}")));
        }
    }

    /// The whole network's weights: the trained ones, from the first device, and the
    /// frozen ones that it does not hold.
    async fn weights(&self) -> Result<WeightFile> {
        let (ctx, plan) = (&self.devices[0], &self.parallel.plans[0]);
        let mut weights = plan.params.download(ctx).await?;
        weights.tensors.extend(self.frozen.tensors.clone());
        Ok(weights)
    }

    async fn checkpoint(&self) -> Result<()> {
        let (ctx, plan) = (&self.devices[0], &self.parallel.plans[0]);
        let params = self.weights().await?;
        // A step's loss is taken before its update: the update itself may overflow.
        let finite = params
            .tensors
            .values()
            .flat_map(|(_, v)| v)
            .all(|v| v.is_finite());
        if !finite {
            return Err(self.diverged("the weights are no longer finite"));
        }
        let checkpoint = Checkpoint {
            meta: self.meta.clone(),
            state: self.state.clone(),
            params,
            momenta: plan.momenta.download(ctx).await?,
        };
        checkpoint.save(&checkpoint_path(&self.opts.out))
    }

    /// The trained weights with the model's metadata (process 0 only).
    async fn save_model(&self) -> Result<()> {
        if !self.writes_outputs() {
            return Ok(());
        }
        let mut model = self.weights().await?;
        self.meta.write(&mut model);
        model.save(&model_path(&self.opts.out))
    }
}
