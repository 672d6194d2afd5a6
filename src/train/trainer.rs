//! The training loop: data → [`DataParallel`] steps (one replica per device, one
//! share of every batch per process) → validation per epoch → the paper's
//! learning-rate schedule, with metrics, checkpoints and exact resumption.

use std::collections::hash_map::{Entry, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::checkpoint::{Checkpoint, TrainState};
use super::init::{from_net_a, random_weights, Init};
use super::metrics::{EpochRecord, MetricsLog, StepRecord};
use super::schedule::{Decision, PlateauSchedule};
use crate::data::{
    Cifar10, ColourStats, Dataset, EvalTransform, ImageFolder, Loader, LoaderConfig,
    SyntheticDataset, TrainAugment, Transform,
};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::graph::data_parallel::DEFAULT_BUCKET_BYTES;
use crate::graph::{Collective, DataParallel, EvalPlan, Network, StepStats};
use crate::model::{Config, ModelMeta, ModelSpec, WeightFile};
use crate::shape::SgdHyper;

/// Where the images come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// The built-in synthetic data set: `train` and `val` images of `size` pixels.
    Builtin { train: usize, val: usize, size: u32 },
    /// ImageNet's layout (`train/<class>/…`, `val/<class>/…`) or CIFAR-10's binary
    /// batches, told apart by what the folder holds.
    Path(PathBuf),
}

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

pub fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("checkpoint.safetensors")
}

pub fn model_path(out: &Path) -> PathBuf {
    out.join("model.safetensors")
}

/// Opens the training and validation sets of `source`.
pub fn open_data(
    source: &DataSource,
    seed: u64,
    strict: bool,
) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
    match source {
        DataSource::Builtin { train, val, size } => {
            let s = SyntheticDataset::splits(seed, *train, *val, *size)?;
            Ok((Arc::new(s.train), Arc::new(s.val)))
        }
        DataSource::Path(path) => {
            if !path.exists() {
                return Err(Error::Data {
                    path: path.clone(),
                    message: "does not exist; give a folder with train/<class>/ and val/<class>/ image folders, \
                              or CIFAR-10's binary batches, or leave --data out for the built-in data set"
                        .into(),
                });
            }
            let is_cifar = path.join("data_batch_1.bin").exists()
                || path.join("cifar-10-batches-bin").exists();
            if is_cifar {
                let s = Cifar10::open(path)?;
                Ok((Arc::new(s.train), Arc::new(s.val)))
            } else {
                let s = ImageFolder::open(path, strict)?;
                Ok((Arc::new(s.train), Arc::new(s.val)))
            }
        }
    }
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
    let ctx = devices.first().ok_or(Error::InvalidArgument {
        op: "train",
        message: "no device to train on".into(),
    })?;
    let writer = collective.rank() == 0;
    let replicas = devices.len() * collective.processes();
    if !opts.batch.is_multiple_of(replicas) {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!(
                "--batch {} does not split evenly over {replicas} replicas ({} device(s) × {} process(es)); \
                 use a multiple of {replicas}",
                opts.batch,
                devices.len(),
                collective.processes()
            ),
        });
    }
    // Every process must train the same thing; only the loader's threads may differ.
    // `name=value` fields, so that a difference is reported by name.
    let description = format!(
        "{:?}",
        TrainOptions {
            workers: 0,
            ..opts.clone()
        }
    )
    .replace(": ", "=");
    collective.agree(&description)?;
    let io = |path: &Path, what: &str, e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        message: format!("{what}: {e}"),
    };
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| io(&opts.out, "cannot create the output folder", e))?;
    let (train_set, val_set) = open_data(&opts.data, opts.seed, opts.strict)?;
    let spec = &ModelSpec {
        config: opts.config,
        classes: train_set.num_classes(),
        input_size: opts.crop,
        width_divisor: opts.width_divisor,
    };
    spec.validate()?;
    if train_set.is_empty() || val_set.is_empty() {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!(
                "the data has {} training and {} validation images; both must be non-empty",
                train_set.len(),
                val_set.len()
            ),
        });
    }

    // Starting point: a checkpoint to resume, or fresh weights.
    let ckpt_path = checkpoint_path(&opts.out);
    let resumed = match opts.resume {
        true => {
            if !ckpt_path.exists() {
                return Err(Error::Io {
                    path: ckpt_path.display().to_string(),
                    message: "no checkpoint to resume from; run without --resume to start training"
                        .into(),
                });
            }
            let c = Checkpoint::load(&ckpt_path)?;
            c.params
                .check_matches(spec, &ckpt_path.display().to_string())?;
            Some(c)
        }
        false => None,
    };
    let weights = match (&resumed, &opts.init) {
        (Some(c), _) => c.params.clone(),
        (None, Init::FromCheckpoint(path)) => {
            let net_a = WeightFile::load(Path::new(path))?;
            from_net_a(
                spec,
                &net_a,
                path,
                random_weights(spec, &Init::Glorot, opts.seed),
            )?
        }
        (None, init) => random_weights(spec, init, opts.seed),
    };
    let mut state = match &resumed {
        Some(c) => c.state.clone(),
        None => TrainState {
            epoch: 0,
            next_batch: 0,
            global_step: 0,
            seed: opts.seed,
            schedule: PlateauSchedule::new(opts.lr, opts.patience, opts.max_reductions),
            epoch_loss_sum: 0.0,
            epoch_top1_hits: 0.0,
            epoch_samples: 0,
            seconds: 0.0,
        },
    };

    // Data: the training set's colour statistics drive both mean subtraction and the
    // colour noise; they are a deterministic function of the data.
    let (s_min, s_max) = opts.scale;
    let crop = spec.input_size as u32;
    let stats = ColourStats::estimate(train_set.as_ref(), 1000)?;
    let mut augment = TrainAugment::paper(&stats, s_min, s_max, crop)?;
    if opts.normalize_std {
        augment.preprocessing.std =
            [0, 1, 2].map(|c| (stats.covariance[c][c].sqrt() * 255.0) as f32);
    }
    let preprocessing = augment.preprocessing;
    let meta = ModelMeta::new(
        spec,
        train_set.class_names().to_vec(),
        preprocessing,
        [s_min, s_max],
    );
    let step_batch = opts.batch * opts.accumulate;
    let loader_config = LoaderConfig {
        drop_last: true,
        workers: opts.workers,
        shard: (collective.rank(), collective.processes()),
        ..LoaderConfig::train(step_batch, opts.seed)
    };
    let loader = Loader::new(train_set.clone(), Transform::Train(augment), loader_config)?;
    let eval_transform = EvalTransform {
        q: s_min,
        crop,
        preprocessing,
    };
    let val_loader = Loader::new(
        val_set.clone(),
        Transform::Eval(eval_transform),
        LoaderConfig {
            workers: opts.workers,
            ..LoaderConfig::eval(opts.batch)
        },
    )?;
    let steps_per_epoch = loader.batches_per_epoch();
    if steps_per_epoch == 0 {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!(
                "{} training images make no full step of {step_batch}; lower --batch",
                train_set.len()
            ),
        });
    }

    // GPU: the compiled training plans, and inference plans per batch size for
    // validation on the first device (every replica holds the same weights).
    let net = Network::new(spec, opts.dropout);
    let parallel = DataParallel::new(
        devices,
        &net,
        &weights,
        opts.batch / replicas,
        opts.accumulate,
        collective.processes(),
        DEFAULT_BUCKET_BYTES,
    )
    .await?;
    if let Some(c) = &resumed {
        for (ctx, plan) in devices.iter().zip(&parallel.plans) {
            plan.momenta.write(ctx, &c.momenta)?;
        }
    }
    let plan = &parallel.plans[0];
    let mut eval_plans: HashMap<usize, EvalPlan> = HashMap::new();
    let mut metrics = match writer {
        true => Some(MetricsLog::open(&opts.out.join("metrics.jsonl"))?),
        false => None,
    };
    on_event(Event::Started {
        steps_per_epoch,
        epochs: opts.epochs,
        epoch: state.epoch,
        next_batch: state.next_batch,
        parameters: spec.parameter_count(),
        train_images: train_set.len(),
        val_images: val_set.len(),
    });

    let seed32 = (opts.seed ^ (opts.seed >> 32)) as u32;
    let mut stopped_by_schedule = false;
    while state.epoch < opts.epochs && !stopped_by_schedule {
        let epoch = state.epoch;
        let epoch_start = Instant::now();
        let mut step_clock = Instant::now();
        let mut skipped_steps = 0;
        for batch in loader.epoch(epoch as u64, state.next_batch)? {
            let batch = batch?;
            for message in &batch.skipped {
                on_event(Event::Note(format!(
                    "skipped an unreadable image: {message}"
                )));
            }
            state.next_batch = batch.index + 1;
            // Processes skip a step together when any share is short (unreadable
            // images; the plan's batch is fixed).
            let mut short = [(batch.len() != parallel.batch()) as u32 as f32];
            if collective.processes() > 1 {
                collective.all_reduce_sum(&mut short)?;
            }
            if short[0] > 0.0 {
                skipped_steps += 1;
                continue;
            }
            let hyper = SgdHyper {
                lr: state.schedule.lr,
                momentum: opts.momentum,
                weight_decay: opts.weight_decay,
                grad_scale: 1.0,
            };
            let (local, exchange) = parallel
                .step(
                    &batch.images,
                    &batch.labels,
                    &hyper,
                    seed32,
                    state.global_step as u32,
                    collective.rank() * parallel.batch(),
                    collective,
                )
                .await?;
            // The step's statistics over every process's share.
            let mut totals = [
                local.loss_sum as f32,
                local.top1_hits as f32,
                local.top5_hits as f32,
            ];
            if collective.processes() > 1 {
                collective.all_reduce_sum(&mut totals)?;
            }
            let stats = StepStats {
                samples: local.samples * collective.processes(),
                loss_sum: totals[0] as f64,
                top1_hits: totals[1] as f64,
                top5_hits: totals[2] as f64,
            };
            state.global_step += 1;
            state.epoch_loss_sum += stats.loss_sum;
            state.epoch_top1_hits += stats.top1_hits;
            state.epoch_samples += stats.samples;
            let seconds = step_clock.elapsed().as_secs_f64();
            state.seconds += seconds;
            step_clock = Instant::now();
            let images_per_s = stats.samples as f64 / seconds.max(1e-9);
            let top1_err = 1.0 - stats.top1_hits / stats.samples as f64;
            on_event(Event::Step {
                epoch,
                batch: batch.index,
                steps_per_epoch,
                loss: stats.mean_loss(),
                top1_err,
                lr: state.schedule.lr,
                images_per_s,
            });
            if let Some(metrics) = metrics
                .as_mut()
                .filter(|_| opts.log_every > 0 && state.global_step % opts.log_every as u64 == 0)
            {
                metrics.write(&StepRecord {
                    kind: "step",
                    epoch,
                    step: state.global_step,
                    loss: stats.mean_loss(),
                    top1_err,
                    lr: state.schedule.lr,
                    images_per_s,
                    exchange_bytes: exchange.bytes,
                    exchange_seconds: exchange.seconds,
                })?;
            }
            // Stop after this step if any process was asked to.
            let mut stop_requests = [stop.load(Ordering::SeqCst) as u32 as f32];
            if collective.processes() > 1 {
                collective.all_reduce_sum(&mut stop_requests)?;
            }
            let interrupted = stop_requests[0] > 0.0;
            if writer
                && (interrupted
                    || (opts.checkpoint_every > 0
                        && state.global_step % opts.checkpoint_every as u64 == 0))
            {
                checkpoint_now(ctx, plan, &meta, &state, &ckpt_path).await?;
            }
            if interrupted {
                return Ok(Outcome::Interrupted(ckpt_path));
            }
        }
        if skipped_steps > 0 {
            on_event(Event::Note(format!(
                "{skipped_steps} step(s) of epoch {} skipped: unreadable images left them short",
                epoch + 1
            )));
        }

        on_event(Event::Validating {
            epoch,
            images: val_set.len(),
        });
        let mut val = StepStats::default();
        for batch in val_loader.epoch(0, 0)? {
            let batch = batch?;
            if batch.is_empty() {
                continue;
            }
            let eval = match eval_plans.entry(batch.len()) {
                Entry::Occupied(plan) => plan.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(EvalPlan::new(ctx, &net, &plan.params, batch.len())?)
                }
            };
            val.add(&eval.evaluate(ctx, &batch.images, &batch.labels).await?);
        }
        let train = state.epoch_stats();
        let record = EpochRecord {
            kind: "epoch",
            epoch: epoch + 1,
            step: state.global_step,
            loss: train.mean_loss(),
            lr: state.schedule.lr,
            images_per_s: train.samples as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9),
            train_top1_err: 1.0 - train.top1_hits / train.samples.max(1) as f64,
            val_loss: val.mean_loss(),
            val_top1_err: 1.0 - val.top1_hits / val.samples.max(1) as f64,
            val_top5_err: 1.0 - val.top5_hits / val.samples.max(1) as f64,
            seconds: state.seconds,
        };
        if let Some(metrics) = metrics.as_mut() {
            metrics.write(&record)?;
        }
        on_event(Event::Epoch(&record));
        match state.schedule.observe(record.val_top1_err) {
            Decision::Continue => {}
            Decision::Reduced(lr) => on_event(Event::Note(format!(
                "validation error stopped improving: learning rate divided by 10, now {lr:.1e}"
            ))),
            Decision::Stop => {
                on_event(Event::Note("the learning rate has been divided the maximum number of times and validation stopped improving again: done".into()));
                stopped_by_schedule = true;
            }
        }
        state.epoch += 1;
        state.next_batch = 0;
        state.epoch_loss_sum = 0.0;
        state.epoch_top1_hits = 0.0;
        state.epoch_samples = 0;
        if writer {
            checkpoint_now(ctx, plan, &meta, &state, &ckpt_path).await?;
        }
    }

    let path = model_path(&opts.out);
    if writer {
        let mut model = plan.params.download(ctx).await?;
        meta.write(&mut model);
        model.save(&path)?;
    }
    Ok(Outcome::Finished(path))
}

async fn checkpoint_now(
    ctx: &GpuContext,
    plan: &crate::graph::TrainPlan,
    meta: &ModelMeta,
    state: &TrainState,
    path: &Path,
) -> Result<()> {
    let checkpoint = Checkpoint {
        meta: meta.clone(),
        state: state.clone(),
        params: plan.params.download(ctx).await?,
        momenta: plan.momenta.download(ctx).await?,
    };
    checkpoint.save(path)
}
