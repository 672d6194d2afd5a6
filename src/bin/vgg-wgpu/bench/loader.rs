//! `vgg-wgpu bench loader`: the training data loader alone, no network, no adapter.
//! The loader is the one `train --data DIR` builds (the same data set, augmentation and
//! loader settings); each worker count is timed over whole batches, across epochs, after
//! one warm-up batch. `benches/torchvision_loader.py` times torchvision's pipeline the
//! same way and prints the same table.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use vgg_wgpu::data::{cores, ColourStats, Dataset, Loader, LoaderConfig, TrainAugment, Transform};
use vgg_wgpu::train::data_source::DataSource;
use vgg_wgpu::{Error, Result};

use super::args::BenchArgs;
use super::report::{print_json, Rounded};
use crate::train::values::parse_scale;

/// One worker count's measurement, a row of the table or a JSON line.
#[derive(Serialize)]
struct LoaderRow {
    workers: usize,
    /// Cores the loader keeps busy: the caller's thread with no workers, else one per
    /// worker up to the machine's cores.
    cores_used: usize,
    images: usize,
    seconds: Rounded<3>,
    images_per_s: Rounded<1>,
    images_per_s_per_core: Rounded<1>,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let data = args.data.as_deref().ok_or_else(|| Error::InvalidArgument {
        op: "bench loader",
        message: "give the image folder to read with --data DIR (train/<class>/*.jpg)".into(),
    })?;
    let cores = cores();
    let workers = match &args.workers {
        Some(list) => list.clone(),
        None => default_workers(cores),
    };
    let (train_set, _) = DataSource::Path(data.to_path_buf()).open(0, false)?;
    let images = train_set.len();
    if args.batch > images {
        return Err(Error::Data {
            path: data.to_path_buf(),
            message: format!(
                "has {images} training images, no full batch of {}: lower --batch",
                args.batch
            ),
        });
    }
    let (s_min, s_max) = parse_scale(args.scale.as_deref(), args.size)?;
    // As `train` does: the paper's augmentation, from the set's colour statistics.
    let stats = ColourStats::estimate(train_set.as_ref(), 1000)?;
    let augment = TrainAugment::paper(&stats, s_min, s_max, args.size as u32)?;
    if !args.json {
        println!(
            "training loader: {} ({images} images), S in [{s_min}, {s_max}], crop {}, batch {}, {cores} cores",
            data.display(),
            args.size,
            args.batch
        );
        println!("workers  cores used  images  seconds  images/s  images/s per core");
    }
    for w in workers {
        let loader = train_loader(train_set.clone(), augment, args.batch, w)?;
        let (counted, seconds) = time_batches(&loader, args.min_seconds)?;
        let cores_used = w.clamp(1, cores);
        let per_s = counted as f64 / seconds;
        let row = LoaderRow {
            workers: w,
            cores_used,
            images: counted,
            seconds: Rounded(seconds),
            images_per_s: Rounded(per_s),
            images_per_s_per_core: Rounded(per_s / cores_used as f64),
        };
        match args.json {
            true => print_json(&row)?,
            false => println!(
                "{w:>7}  {cores_used:>10}  {counted:>6}  {seconds:>7.2}  {per_s:>8.1}  {:>17.1}",
                per_s / cores_used as f64
            ),
        }
    }
    Ok(())
}

/// 0 (the caller's thread), 1, and one worker per core when that is more.
fn default_workers(cores: usize) -> Vec<usize> {
    let mut workers = vec![0, 1];
    if cores > 1 {
        workers.push(cores);
    }
    workers
}

/// The training loader `train` builds for this data set (its `loaders()`): every batch
/// full, `workers` threads each 2 batches ahead.
fn train_loader(
    train_set: Arc<dyn Dataset>,
    augment: TrainAugment,
    batch: usize,
    workers: usize,
) -> Result<Loader> {
    let config = LoaderConfig {
        drop_last: true,
        workers,
        ..LoaderConfig::train(batch, 0)
    };
    Loader::new(train_set, Transform::Train(augment), config)
}

/// Images loaded and the seconds they took: one warm-up batch (threads started, first
/// files read), then whole batches, on into the next epochs, until `min_seconds` have
/// passed (at least one batch).
fn time_batches(loader: &Loader, min_seconds: f64) -> Result<(usize, f64)> {
    let mut epoch = 0;
    let mut batches = loader.epoch(epoch, 0)?;
    if let Some(warm_up) = batches.next() {
        warm_up?;
    }
    let start = Instant::now();
    let mut images = 0;
    while images == 0 || start.elapsed().as_secs_f64() < min_seconds {
        match batches.next() {
            Some(batch) => images += batch?.len(),
            None => {
                epoch += 1;
                batches = loader.epoch(epoch, 0)?;
            }
        }
    }
    Ok((images, start.elapsed().as_secs_f64()))
}
