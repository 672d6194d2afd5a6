//! `vgg-wgpu features`: the penultimate layer (FC2 after ReLU) as an image descriptor
//! (the paper's Appendix B): dense FC2 maps averaged over positions, the image and its
//! mirror, and the test scales, written as safetensors.

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::eval::protocol::check_scales;
use vgg_wgpu::eval::{default_scales, evaluate_image, open_test_set, Protocol, TestModel, TestSet};
use vgg_wgpu::input_file;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::WeightFile;
use vgg_wgpu::terminal::{printable, printable_path};

use crate::test_options::{count, scale, ModelOverrides};

#[derive(Args)]
pub struct FeaturesArgs {
    #[arg(long)]
    weights: PathBuf,
    /// `builtin`, a folder with val/<class>/*.jpg, or a folder of class folders
    /// (<class>/*.jpg), every image of which is read.
    #[arg(long)]
    data: String,
    /// Output: tensors `features` (N, D) and `labels` (N), with the image list, the
    /// skipped (unreadable) images and class names in the metadata. Never one of the
    /// inputs (--weights, an image of --data).
    #[arg(long)]
    out: PathBuf,
    /// Test scales Q (default: from the model's training scale).
    #[arg(long, value_delimiter = ',', value_parser = scale, allow_negative_numbers = true)]
    scales: Vec<u32>,
    /// Only the first N images.
    #[arg(long, value_parser = count, allow_negative_numbers = true)]
    limit: Option<usize>,
    #[command(flatten)]
    overrides: ModelOverrides,
}

/// Features of every readable image, written even when some were skipped; then the
/// command fails if any were, listing them.
pub fn run(ctx: &GpuContext, args: &FeaturesArgs) -> Result<()> {
    check_not_an_input(args, [(args.weights.as_path(), "--weights")])?;
    check_writable(&args.out)?;
    let mut model = args.overrides.load(ctx, &args.weights)?;
    let protocol = protocol(ctx, args, &model)?;
    let set = open_test_set(&args.data, model.spec.input_size)?;
    let images = set.names.iter().map(|name| (Path::new(name), "the image"));
    check_not_an_input(args, images)?;
    let count = args.limit.unwrap_or(usize::MAX).min(set.images.len());
    let mut extracted = extract(ctx, &mut model, &protocol, &set, count)?;
    let dim = model.spec.fc_width();
    save(args, &set, &protocol.scales, &mut extracted, dim)?;
    println!(
        "{} features of {dim} values written to {}",
        extracted.names.len(),
        printable_path(&args.out)
    );
    let skipped = &extracted.skipped;
    if skipped.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        op: "features",
        message: format!(
            "{} of {count} images were skipped (listed above and under 'skipped' in the file's metadata): {}",
            skipped.len(),
            first_few(skipped)
        ),
    })
}

/// Dense, flipped evaluation at the options' scales, checked against the model.
fn protocol(ctx: &GpuContext, args: &FeaturesArgs, model: &TestModel) -> Result<Protocol> {
    let input = model.spec.input_size;
    let scales = if args.scales.is_empty() {
        default_scales(model.meta.train_scale, input as u32)
    } else {
        args.scales.clone()
    };
    check_scales(&scales, input as u32)?;
    model.check_scales_fit(ctx, &scales)?;
    Ok(Protocol {
        scales,
        dense: true,
        multi_crop: false,
        flip: true,
    })
}

/// The features of the first images of a test set: (images × dim) values in order, with
/// the names and labels of the images they describe and the names of the skipped ones.
#[derive(Default)]
struct Extracted {
    features: Vec<f32>,
    labels: Vec<f32>,
    names: Vec<String>,
    skipped: Vec<String>,
}

/// The features of the first `count` images with a progress bar, skipping (and
/// printing) the unreadable ones and those too large for the device.
fn extract(
    ctx: &GpuContext,
    model: &mut TestModel,
    protocol: &Protocol,
    set: &TestSet,
    count: usize,
) -> Result<Extracted> {
    let bar = ProgressBar::new(count as u64);
    bar.set_style(
        ProgressStyle::with_template("features [{bar:30}] {pos}/{len} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut out = Extracted::default();
    for i in 0..count {
        let image = match set.images.image(i) {
            Ok(image) => image,
            Err(e @ Error::BadImage { .. }) => {
                bar.suspend(|| eprintln!("{}", e.for_terminal()));
                out.skipped.push(set.names[i].clone());
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(e) = protocol
            .scales
            .iter()
            .find_map(|&q| model.check_input_size(ctx, image.dimensions(), q).err())
        {
            let line = format!("skipped {}: {e}", set.names[i]);
            bar.suspend(|| eprintln!("{}", printable(&line)));
            out.skipped.push(set.names[i].clone());
            continue;
        }
        let p = pollster::block_on(evaluate_image(ctx, model, &image, protocol))?;
        out.features.extend(p.features);
        out.labels.push(set.images.label(i) as f32);
        out.names.push(set.names[i].clone());
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Writes `features` (N, dim) and `labels` (N) with the image lists, class names,
/// scales and weight file in the metadata.
fn save(
    args: &FeaturesArgs,
    set: &TestSet,
    scales: &[u32],
    extracted: &mut Extracted,
    dim: usize,
) -> Result<()> {
    let Extracted {
        features,
        labels,
        names,
        skipped,
    } = extracted;
    let mut file = WeightFile::default();
    file.tensors.insert(
        "features".into(),
        (vec![names.len(), dim], std::mem::take(features)),
    );
    file.tensors
        .insert("labels".into(), (vec![names.len()], std::mem::take(labels)));
    let meta = [
        ("images", serde_json::json!(names)),
        ("skipped", serde_json::json!(skipped)),
        ("class_names", serde_json::json!(set.images.class_names())),
        ("scales", serde_json::json!(scales)),
        (
            "weights",
            serde_json::json!(args.weights.display().to_string()),
        ),
    ];
    for (key, value) in meta {
        file.metadata.insert(key.into(), value.to_string());
    }
    file.save(&args.out)
}

/// Refuses an `--out` that is one of `inputs`, or whose temporary file (written first,
/// then renamed) is.
fn check_not_an_input<'a>(
    args: &FeaturesArgs,
    inputs: impl IntoIterator<Item = (&'a Path, &'static str)> + Clone,
) -> Result<()> {
    for written in [
        args.out.clone(),
        vgg_wgpu::atomic_file::temporary_path(&args.out),
    ] {
        input_file::check_not_an_input(&written, "--out", inputs.clone())?;
    }
    Ok(())
}

/// Fails before any work when `out` cannot be written: a folder, or a place where the
/// temporary file that `WeightFile::save` renames into `out` cannot be created.
fn check_writable(out: &Path) -> Result<()> {
    if out.is_dir() {
        return Err(Error::InvalidArgument {
            op: "--out",
            message: format!(
                "{} is a folder: give --out a file name, e.g. features.safetensors",
                out.display()
            ),
        });
    }
    let fail = |what: &'static str| {
        move |source| Error::Io {
            path: out.to_path_buf(),
            what: what.into(),
            source,
        }
    };
    let probe = vgg_wgpu::atomic_file::temporary_path(out);
    std::fs::File::create(&probe).map_err(fail("cannot be written; nothing was computed"))?;
    std::fs::remove_file(&probe).map_err(fail("the probe file beside it cannot be removed"))
}

/// The first ten names, and how many more: a folder with thousands of bad files should
/// not print them all twice.
fn first_few(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let list = names[..names.len().min(SHOWN)].join(", ");
    match names.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{list} and {more} more"),
        _ => list,
    }
}
