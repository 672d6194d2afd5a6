//! Setting up a training run: checks the processes agree, claims the output folder,
//! opens the data, finds the starting point (a checkpoint to resume, or fresh weights),
//! builds the loaders and compiles the plans. Nothing in the folder is deleted or
//! written until all of that has succeeded.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::cached_features::{CacheSource, Caches};
use super::checkpoint::{Checkpoint, TrainState};
use super::data_source::DataSource;
use super::feature_file;
use super::init::{from_net_a, not_from_net_a, random_weights, Init, RandomLayer};
use super::metrics::MetricsLog;
use super::options::{Normalize, TrainOptions};
use super::pretrained::Transfer;
use super::run_data::RunData;
use super::run_folder::{checkpoint_path, features_path, metrics_path, RunFolder};
use super::run_settings::RunSettings;
use super::schedule::PlateauSchedule;
use super::trainer::{Event, Run};
use crate::data::{
    ColourStats, Dataset, EvalTransform, Given, Loader, LoaderConfig, Preprocessing, TrainAugment,
    Transform,
};
use crate::error::{Error, Result};
use crate::graph::data_parallel::DEFAULT_BUCKET_BYTES;
use crate::graph::{Collective, DataParallel, Network};
use crate::kernels::GpuContext;
use crate::model::{ModelMeta, ModelSpec, WeightFile};

/// Where training starts.
struct Start {
    weights: WeightFile,
    /// SGD momenta of a resumed run; fresh runs start from zero.
    momenta: Option<WeightFile>,
    state: TrainState,
    /// What the user should know about the start (an unchecked resume, what a
    /// pretrained start copied).
    note: Option<String>,
}

impl<'a> Run<'a> {
    pub(super) async fn set_up(
        devices: &'a [GpuContext],
        collective: &'a dyn Collective,
        opts: &'a TrainOptions,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Run<'a>> {
        check_processes(devices, collective, opts)?;
        opts.check_cache_features()?;
        let mut folder = match collective.rank() {
            0 => Some(RunFolder::claim(&opts.out, opts.resume, opts.overwrite)?),
            _ => None,
        };
        let (train_set, val_set) = opts.data.open(opts.seed, opts.strict)?;
        let spec = spec_for(opts, train_set.as_ref(), val_set.as_ref())?;
        let net = Network::new(&spec, opts.dropout).with_trainable(opts.trainable(&spec))?;
        let mut start = starting_point(opts, &spec, train_set.class_names())?;
        let counts = match opts.data {
            DataSource::Builtin { .. } => None,
            _ => class_counts(train_set.as_ref()),
        };
        let unguarded = folder.as_ref().and_then(|f| f.unguarded_note(&opts.out));
        let start_notes = start.note.take().into_iter().chain(counts).chain(unguarded);
        let (loader, val_loader, meta) = loaders(opts, collective, &spec, train_set, val_set)?;
        let cached = match opts.cache_features {
            false => None,
            true => {
                let data = (&loader, &val_loader, &meta);
                let reuse = opts.resume && folder.is_some();
                let ctx = &devices[0];
                Some(cache_features(ctx, &net, &mut start, opts, data, reuse, on_event).await?)
            }
        };
        // The frozen layers whose output is cached do not run again.
        let net = match cached.is_some() {
            true => net.part(net.frozen_end()..net.ops.len()),
            false => net,
        };
        let parallel = DataParallel::new(
            devices,
            &net,
            &start.weights,
            opts.batch / (devices.len() * collective.processes()),
            opts.accumulate,
            collective.processes(),
            DEFAULT_BUCKET_BYTES,
        )
        .await?;
        if let Some(momenta) = &start.momenta {
            for (ctx, plan) in devices.iter().zip(&parallel.plans) {
                plan.momenta.write(ctx, momenta)?;
            }
        }
        let metrics = match folder.as_mut() {
            Some(folder) => Some(start_writing(folder, opts, &start.state, cached.as_ref())?),
            None => None,
        };
        Ok(Run {
            devices,
            collective,
            opts,
            frozen: frozen_tensors(&start.weights, &net),
            net,
            meta,
            examples: RunData {
                train: loader,
                val: val_loader,
                cached: cached.map(|c| (Arc::new(c.train), c.val)),
            },
            parallel,
            eval_plans: HashMap::new(),
            metrics,
            _folder: folder,
            state: start.state,
            start_notes: start_notes.collect(),
        })
    }
}

/// `--cache-features`: the output of `net`'s frozen layers, from the start's weights,
/// for the images of `data`'s loaders, read back from the run folder when `reuse`
/// (this process resumes the run and writes its folder) and they were computed alike.
async fn cache_features(
    ctx: &GpuContext,
    net: &Network,
    start: &mut Start,
    opts: &TrainOptions,
    (loader, val_loader, meta): (&Loader, &Loader, &ModelMeta),
    reuse: bool,
    on_event: &mut dyn FnMut(Event),
) -> Result<Caches> {
    let source = CacheSource {
        ctx,
        net,
        weights: &start.weights,
        transform: eval_transform(opts, &net.spec, meta.preprocessing),
        opts,
        train_set: loader.dataset(),
        val_set: val_loader.dataset(),
    };
    let path = features_path(&opts.out);
    let reuse = reuse.then_some(path.as_path());
    let listed = &mut start.state.listed_unreadable;
    source.caches(reuse, listed, on_event).await
}

/// The network's shape for the data, once both sets are known to hold images.
fn spec_for(
    opts: &TrainOptions,
    train_set: &dyn Dataset,
    val_set: &dyn Dataset,
) -> Result<ModelSpec> {
    let spec = ModelSpec {
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
    Ok(spec)
}

/// The tensors of `weights` that the trained `net` (a part of the whole network) has
/// no parameter for: none for the whole network.
fn frozen_tensors(weights: &WeightFile, net: &Network) -> WeightFile {
    let mut frozen = WeightFile::default();
    for p in &net.spec.parameters()[..net.first_param()] {
        if let Some(tensor) = weights.tensors.get(&p.name) {
            frozen.tensors.insert(p.name.clone(), tensor.clone());
        }
    }
    frozen
}

/// Process 0's metrics log, opened once the run has read what it starts from and
/// passed every check: only then does the run that `--overwrite` replaces go.
/// Features computed for this run are saved then, for a resume to read back.
fn start_writing(
    folder: &mut RunFolder,
    opts: &TrainOptions,
    state: &TrainState,
    cached: Option<&Caches>,
) -> Result<MetricsLog> {
    folder.clear_replaced()?;
    let path = metrics_path(&opts.out);
    let metrics = match opts.resume {
        true => MetricsLog::resume(&path, state.global_step, state.epoch),
        false => MetricsLog::open(&path, true),
    }?;
    if let Some(Caches {
        train,
        val,
        unsaved: Some(key),
    }) = cached
    {
        feature_file::save(&features_path(&opts.out), key, train, val)?;
    }
    Ok(metrics)
}

/// There is a device, the batch splits over every replica, and every process was
/// started with the same options.
fn check_processes(
    devices: &[GpuContext],
    collective: &dyn Collective,
    opts: &TrainOptions,
) -> Result<()> {
    if devices.is_empty() {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "no device to train on".into(),
        });
    }
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
    // Only the loader's threads may differ. `name=value` fields, so that a difference
    // is reported by name.
    let description = format!(
        "{:?}",
        TrainOptions {
            workers: 0,
            ..opts.clone()
        }
    )
    .replace(": ", "=");
    collective.agree(&description)
}

/// A checkpoint to resume (`--resume`) of a run on the same `class_names`, or fresh
/// weights as `--init` says.
fn starting_point(opts: &TrainOptions, spec: &ModelSpec, class_names: &[String]) -> Result<Start> {
    if opts.resume {
        let path = checkpoint_path(&opts.out);
        if !path.exists() {
            return Err(Error::InvalidArgument {
                op: "--resume",
                message: format!(
                    "no checkpoint to resume from at {}; start training without --resume \
                     (with --overwrite if an earlier run left files there)",
                    path.display()
                ),
            });
        }
        let mut checkpoint = Checkpoint::load(&path)?;
        checkpoint.check_classes(class_names, &path)?;
        // The tensors first: a changed network is best named by its first wrong tensor.
        checkpoint
            .params
            .check_matches(spec, &path.display().to_string())?;
        let now = RunSettings::resuming(opts, checkpoint.state.settings.as_ref());
        let note = match &checkpoint.state.settings {
            Some(then) => then.check_resume(&now).map(|()| None)?,
            None => Some(format!(
                "{} predates the record of a run's options: not checked against this command's",
                path.display()
            )),
        };
        // Recorded from here on, so the next resume of an old run is checked.
        checkpoint.state.settings = Some(now);
        return Ok(Start {
            weights: checkpoint.params,
            momenta: Some(checkpoint.momenta),
            state: checkpoint.state,
            note,
        });
    }
    let mut note = None;
    let (weights, random_layers) = match &opts.init {
        Init::Pretrained(path) => {
            let transfer = Transfer::from_file(spec, path, opts.seed)?;
            note = Some(transfer.describe(path));
            (transfer.weights, transfer.random_layers)
        }
        Init::FromCheckpoint(path) => {
            let net_a = WeightFile::load(Path::new(path))?;
            let random = random_weights(spec, &Init::Glorot, opts.seed);
            let weights = from_net_a(spec, &net_a, path, random)?;
            (weights, not_from_net_a(spec))
        }
        init => (
            random_weights(spec, init, opts.seed),
            RandomLayer::every(spec, init),
        ),
    };
    opts.check_frozen(spec, &random_layers)?;
    let schedule = PlateauSchedule::new(opts.learning_rate(), opts.patience, opts.max_reductions);
    Ok(Start {
        weights,
        momenta: None,
        state: TrainState::new(opts.seed, schedule, RunSettings::of(opts)),
        note,
    })
}

/// The training loader (this process's share of every step, augmented), the
/// validation loader, and the model metadata that records their preprocessing.
fn loaders(
    opts: &TrainOptions,
    collective: &dyn Collective,
    spec: &ModelSpec,
    train_set: Arc<dyn Dataset>,
    val_set: Arc<dyn Dataset>,
) -> Result<(Loader, Loader, ModelMeta)> {
    // The training set's colour statistics drive both mean subtraction and the colour
    // noise; they are a deterministic function of the data.
    let (s_min, s_max) = opts.scale;
    let crop = spec.input_size as u32;
    let stats = ColourStats::estimate(train_set.as_ref(), 1000)?;
    let mut augment = TrainAugment::paper(&stats, s_min, s_max, crop)?;
    match opts.normalize {
        Normalize::DataMean => {}
        Normalize::DataMeanStd => {
            augment.preprocessing.std =
                [0, 1, 2].map(|c| (stats.covariance[c][c].sqrt() * 255.0) as f32);
            augment.preprocessing.check(Given::TrainingImages)?;
        }
        Normalize::Fixed(preprocessing) => augment.preprocessing = preprocessing,
    }
    let preprocessing = augment.preprocessing;
    let meta = ModelMeta::new(
        spec,
        train_set.class_names().to_vec(),
        preprocessing,
        [s_min, s_max],
    );
    let step_batch = opts.batch * opts.accumulate;
    let train_config = LoaderConfig {
        drop_last: true,
        workers: opts.workers,
        shard: (collective.rank(), collective.processes()),
        ..LoaderConfig::train(step_batch, opts.seed)
    };
    let train_images = train_set.len();
    let loader = Loader::new(train_set, Transform::Train(augment), train_config)?;
    let eval_transform = eval_transform(opts, spec, preprocessing);
    let val_config = LoaderConfig {
        workers: opts.workers,
        ..LoaderConfig::eval(opts.batch)
    };
    let val_loader = Loader::new(val_set, Transform::Eval(eval_transform), val_config)?;
    if loader.batches_per_epoch() == 0 {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!(
                "{train_images} training images make no full step of {step_batch}; lower --batch"
            ),
        });
    }
    Ok((loader, val_loader, meta))
}

/// Validation's transform, also that of every cached view: the smallest side rescaled
/// to the smallest training scale, the centre crop.
fn eval_transform(
    opts: &TrainOptions,
    spec: &ModelSpec,
    preprocessing: Preprocessing,
) -> EvalTransform {
    EvalTransform {
        q: opts.scale.0,
        crop: spec.input_size as u32,
        preprocessing,
    }
}

/// Fewer images than this in a class are worth a warning: its validation accuracy is
/// noise and the classifier may barely learn it.
const FEW_IMAGES: usize = 5;

/// The training images per class, for the user to check the data is what they think,
/// with the classes that have very few named.
fn class_counts(train_set: &dyn Dataset) -> Option<String> {
    let names = train_set.class_names();
    if names.len() > 20 {
        return None; // a list of ImageNet's 1000 classes helps no one
    }
    let mut counts = vec![0usize; names.len()];
    for i in 0..train_set.len() {
        counts[train_set.label(i) as usize] += 1;
    }
    let listed: Vec<String> = names
        .iter()
        .zip(&counts)
        .map(|(n, c)| format!("{n} {c}"))
        .collect();
    let few: Vec<&str> = names
        .iter()
        .zip(&counts)
        .filter(|(_, &c)| c < FEW_IMAGES)
        .map(|(n, _)| n.as_str())
        .collect();
    let warning = match few.is_empty() {
        true => String::new(),
        false => format!(
            "; fewer than {FEW_IMAGES} training images in {}: add more, or expect little from them",
            few.join(", ")
        ),
    };
    Some(format!(
        "training images per class: {}{warning}",
        listed.join(", ")
    ))
}
