//! `vgg-wgpu train`: argument parsing, the progress bar and signals around the library's
//! training loop (`vgg_wgpu::train::trainer`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::graph::{Collective, SingleProcess};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::{describe, Config, Described, WeightFile};
use vgg_wgpu::train::data_source::DataSource;
use vgg_wgpu::train::init::Init;
use vgg_wgpu::train::options::{Freeze, Normalize, TrainOptions};
use vgg_wgpu::train::trainer::{train, Outcome};

use self::interrupt::Interrupt;
use self::progress::Progress;
use self::values::{
    at_least_one, dropout, learning_rate, lr_multiplier, momentum, parse_scale, val_split,
    weight_decay,
};

mod interrupt;
mod progress;
pub(crate) mod values;

/// With no arguments: a small VGG (config A, widths ÷8, 32×32 input) on the built-in
/// synthetic data set, which trains in minutes even on a CPU adapter.
#[derive(Args)]
pub struct TrainArgs {
    /// VGG configuration of the paper's Table 1: A, A-LRN, B, C, D (VGG-16) or E (VGG-19).
    /// Default: the pretrained file's with --init pretrained:FILE, else A.
    #[arg(long)]
    config: Option<Config>,
    /// `builtin` for the synthetic data set, or a folder: ImageNet's layout
    /// (train/<class>/*.jpg, val/<class>/*.jpg), CIFAR-10's binary batches, or with
    /// --val-split a folder of class folders (<class>/*.jpg).
    #[arg(long, default_value = "builtin")]
    data: String,
    /// Hold out this fraction of each class of a folder of class folders (--data
    /// photos/, photos/<class>/*.jpg) for validation, e.g. 0.1; the same --seed gives the
    /// same split.
    #[arg(long, allow_hyphen_values = true, value_parser = val_split)]
    val_split: Option<f32>,
    /// Training crop, which is also the network's input size (the paper: 224).
    /// Default: the pretrained file's input size, else 32.
    #[arg(long)]
    crop: Option<usize>,
    /// Training scale S, the image's smallest side before cropping: one value (e.g. 256)
    /// or a jitter range (e.g. 256:512). Default: the pretrained file's training scale,
    /// else the crop plus 1/8.
    #[arg(long)]
    scale: Option<String>,
    /// Divide every layer's width by this (1 = the paper's network; 8 for quick runs).
    /// Default: the pretrained file's, else 8.
    #[arg(long)]
    width_divisor: Option<usize>,
    /// Stop after this many epochs (the schedule may stop training earlier).
    #[arg(long, default_value_t = 24)]
    epochs: usize,
    /// Images per GPU pass, over all devices: with N devices each takes batch / N.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// GPU passes whose gradients are summed per SGD step: the effective batch is
    /// batch × accumulate (the paper: 256).
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    accumulate: usize,
    /// Initial learning rate. Default: 1e-2, the paper's, from scratch; 1e-3 with
    /// --init pretrained:FILE, a tenth for fine-tuning (the paper's rate can throw
    /// pretrained weights off). --resume keeps the rate the run started with.
    #[arg(long, allow_hyphen_values = true, value_parser = learning_rate)]
    lr: Option<f32>,
    /// SGD momentum, 0 ≤ m < 1 (the paper: 0.9).
    #[arg(long, default_value_t = 0.9, allow_hyphen_values = true, value_parser = momentum)]
    momentum: f32,
    /// L2 weight decay (the paper: 5e-4).
    #[arg(long, default_value_t = 5e-4, allow_hyphen_values = true, value_parser = weight_decay)]
    weight_decay: f32,
    /// Dropout probability of FC1 and FC2 (the paper: 0.5).
    #[arg(long, default_value_t = 0.5, allow_hyphen_values = true, value_parser = dropout)]
    dropout: f32,
    /// Epochs without validation improvement before the learning rate is divided by 10.
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// Stop when the learning rate has been divided this many times (the paper: 3).
    #[arg(long, default_value_t = 3)]
    max_reductions: usize,
    /// gaussian (N(0, 1e-2), the paper's net A), glorot, kaiming, from:<net-A checkpoint>
    /// (the paper's deeper nets: first four convs and the FC layers from net A), or
    /// pretrained:<weight file> (fine-tuning: every tensor of our or torchvision's VGG
    /// weights that fits; a classifier for other classes starts fresh).
    #[arg(long, default_value = "glorot")]
    init: Init,
    /// Layers that do not train: `features` (every conv layer: only the classifier
    /// learns, the usual fine-tuning of a pretrained net), a number of leading layers
    /// (convs, then FC layers), or `none`.
    #[arg(long, default_value = "none")]
    freeze: Freeze,
    /// Multiplier on the conv layers' learning rate, e.g. 0.1 to fine-tune the features
    /// gently while the new classifier learns at --lr.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true, value_parser = lr_multiplier)]
    lr_features: f32,
    /// With --freeze: compute the frozen layers' output once for each training image in
    /// 2 views (the test transform: smallest side rescaled to the smallest training
    /// scale, centre crop; and its mirror image) and train the other layers on what is
    /// kept, every epoch. Validation images are cached too (1 view, the test transform,
    /// what validation computes anyway). Each image and view costs the size of that
    /// output (VGG-16 with --freeze features: pool5, 25 088 floats, 100 KB), at most 8
    /// GiB in all, kept in OUT/features.cache for --resume. Uncached training's scale
    /// jitter, random crops and colour shift do not apply.
    #[arg(long)]
    cache_features: bool,
    /// Output folder: checkpoint.safetensors, model.safetensors, metrics.jsonl.
    #[arg(long, default_value = "runs/vgg")]
    out: PathBuf,
    /// Continue from OUT/checkpoint.safetensors exactly where it stopped.
    #[arg(long)]
    resume: bool,
    /// Start over in an OUT that holds an earlier run: deletes its checkpoint, model
    /// and metrics once the new run has read its start (an --init file there too) and
    /// passed its checks. Without it, train refuses such a folder.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write a checkpoint every this many steps (and at each epoch's end).
    #[arg(long, default_value_t = 200, value_parser = at_least_one)]
    checkpoint_every: usize,
    /// Log a step record to metrics.jsonl every this many steps.
    #[arg(long, default_value_t = 10)]
    log_every: usize,
    /// Data-loading threads (augmentation); the default is one per core of this machine.
    #[arg(long, default_value_t = vgg_wgpu::data::cores())]
    workers: usize,
    /// Fail on an unreadable image instead of skipping and reporting it.
    #[arg(long)]
    strict: bool,
    /// Input normalisation: `mean` subtracts the training set's mean RGB (the paper);
    /// `mean-std` also divides by its per-channel standard deviation; `pretrained` keeps
    /// the pretrained file's (torchvision's ImageNet mean and std for its weights).
    /// Default: `pretrained` with --init pretrained:FILE, else `mean`.
    #[arg(long, value_parser = ["mean", "mean-std", "pretrained"])]
    normalize: Option<String>,
    /// Data-parallel training on several devices: `all` (every GPU of the best kind),
    /// or adapter indices from `vgg-wgpu info`, e.g. 0,1; an index may repeat (several
    /// devices on one adapter). Each takes a share of every batch; gradients are summed
    /// and every device applies the same update. Default: the one chosen adapter.
    #[arg(long)]
    pub devices: Option<String>,
    /// Data-parallel training across processes started by `mpirun -np N`: each takes
    /// 1/N of every batch, gradients are summed over processes, process 0 alone writes
    /// the outputs and shows progress. Needs a build with `--features mpi`.
    #[arg(long)]
    distributed: bool,
    /// With --distributed: seconds any exchange may wait for the other processes
    /// before failing (a process that hangs or died); the first step also waits for
    /// every process to compile its shaders.
    #[arg(long, default_value_t = 600.0)]
    exchange_timeout: f64,
    /// Built-in data set: training images (10 classes).
    #[arg(long, default_value_t = 5000)]
    train_images: usize,
    /// Built-in data set: validation images.
    #[arg(long, default_value_t = 1000)]
    val_images: usize,
}

/// Trains; an interrupted run's exit code says which signal stopped it.
pub fn run(devices: &[GpuContext], args: &TrainArgs) -> Result<ExitCode> {
    if args.distributed {
        return run_distributed(devices, args);
    }
    train_with(devices, &SingleProcess, args)
}

#[cfg(feature = "mpi")]
fn run_distributed(devices: &[GpuContext], args: &TrainArgs) -> Result<ExitCode> {
    use vgg_wgpu::distributed::{MpiCollective, MpiWorld};
    let collective = MpiCollective {
        world: MpiWorld::init()?,
        timeout: std::time::Duration::from_secs_f64(args.exchange_timeout),
    };
    train_with(devices, &collective, args).map_err(|e| match collective.rank() {
        0 => e,
        rank => Error::Distributed {
            message: format!("process {rank}: {e}"),
        },
    })
}

#[cfg(not(feature = "mpi"))]
fn run_distributed(_: &[GpuContext], _: &TrainArgs) -> Result<ExitCode> {
    Err(Error::InvalidArgument {
        op: "--distributed",
        message: "this build has no MPI support: build with `cargo build --release --features mpi` \
                  (Open MPI needed: `apt-get install openmpi-bin libopenmpi-dev`), then start it with \
                  `mpirun -np N vgg-wgpu train --distributed ...`"
            .into(),
    })
}

/// Trains with progress on standard error; processes other than 0 stay quiet.
fn train_with(
    devices: &[GpuContext],
    collective: &dyn Collective,
    args: &TrainArgs,
) -> Result<ExitCode> {
    let opts = options(args)?;
    let interrupt = Interrupt::listen();
    let quiet = collective.rank() != 0;
    let mut progress = Progress::new(&opts, quiet);
    let outcome = pollster::block_on(train(
        devices,
        collective,
        &opts,
        &interrupt.stop,
        &mut |event| progress.show(event),
    ));
    progress.bar.finish_and_clear();
    match outcome? {
        Outcome::Finished(path) => {
            if !quiet {
                println!("model written to {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Interrupted(path) => {
            if !quiet {
                println!(
                    "interrupted: checkpoint written to {}; continue with --resume",
                    path.display()
                );
            }
            Ok(interrupt.exit_code())
        }
    }
}

/// The library's options from the command line's. With `--init pretrained:FILE`, what
/// is not given (network, scale, normalisation) is the pretrained file's.
fn options(args: &TrainArgs) -> Result<TrainOptions> {
    let source = match &args.init {
        Init::Pretrained(path) => Some(pretrained_source(path)?),
        _ => None,
    };
    let spec = source.as_ref().map(|s| &s.spec);
    let crop = args.crop.or(spec.map(|s| s.input_size)).unwrap_or(32);
    let source_scale = source
        .as_ref()
        .map(|s| (s.meta.train_scale[0], s.meta.train_scale[1]))
        .filter(|&(s_min, _)| s_min as usize >= crop);
    let scale = match (&args.scale, source_scale) {
        (None, Some(scale)) => scale,
        (text, _) => parse_scale(text.as_deref(), crop)?,
    };
    let normalize = match (args.normalize.as_deref(), &source) {
        (Some("mean-std"), _) => Normalize::DataMeanStd,
        (Some("mean"), _) => Normalize::DataMean,
        (_, Some(source)) => Normalize::Fixed(source.meta.preprocessing),
        (Some(_), None) => {
            return Err(Error::InvalidArgument {
                op: "--normalize",
                message: "`pretrained` keeps a pretrained file's normalisation: it needs --init pretrained:FILE".into(),
            })
        }
        (None, None) => Normalize::DataMean,
    };
    Ok(TrainOptions {
        config: args.config.or(spec.map(|s| s.config)).unwrap_or(Config::A),
        crop,
        width_divisor: args
            .width_divisor
            .or(spec.map(|s| s.width_divisor))
            .unwrap_or(8),
        data: data_source(args, crop)?,
        epochs: args.epochs,
        batch: args.batch,
        accumulate: args.accumulate,
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        dropout: args.dropout,
        patience: args.patience,
        max_reductions: args.max_reductions,
        scale,
        init: args.init.clone(),
        out: args.out.clone(),
        resume: args.resume,
        overwrite: args.overwrite,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        log_every: args.log_every,
        workers: args.workers,
        strict: args.strict,
        normalize,
        freeze: args.freeze,
        lr_features: args.lr_features,
        cache_features: args.cache_features,
    })
}

fn data_source(args: &TrainArgs, crop: usize) -> Result<DataSource> {
    Ok(match (args.data.as_str(), args.val_split) {
        ("builtin", None) => DataSource::Builtin {
            train: args.train_images,
            val: args.val_images,
            size: crop as u32,
        },
        ("builtin", Some(_)) => {
            return Err(Error::InvalidArgument {
                op: "--val-split",
                message: "the built-in data set has its own validation images (--val-images); give --data a folder of class folders".into(),
            })
        }
        (path, None) => DataSource::Path(PathBuf::from(path)),
        (path, Some(val_split)) => DataSource::Split {
            path: PathBuf::from(path),
            val_split,
        },
    })
}

/// What a pretrained weight file is (network, preprocessing, training scale), from its
/// header alone: the tensors are read once, when training starts.
fn pretrained_source(path: &str) -> Result<Described> {
    let header = WeightFile::load_shapes(std::path::Path::new(path))?;
    describe(&header, path)
}
