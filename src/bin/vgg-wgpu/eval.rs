//! `vgg-wgpu eval`: top-1/top-5 error of one model or an ensemble under the paper's
//! testing protocols, one table row per protocol (Tables 3–6).

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use vgg_wgpu::data::Dataset;
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::eval::protocol::check_scales;
use vgg_wgpu::eval::test_set::label_map;
use vgg_wgpu::eval::{
    check_ensemble, default_scales, evaluate_ensemble, open_test_set, table_rows, Protocol, Tally,
    TestModel,
};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::terminal::printable;

use crate::test_options::{count, scale, scale_text, ClassNames, ModelOverrides};

#[derive(Args)]
pub struct EvalArgs {
    /// Weight files; several make an ensemble (posteriors averaged).
    #[arg(long, num_args = 1.., required = true)]
    weights: Vec<PathBuf>,
    /// `builtin` (the synthetic validation set), a folder with val/<class>/*.jpg (its
    /// train/, if any, only orders the classes), or a folder of class folders
    /// (<class>/*.jpg), every image of which is tested.
    #[arg(long, default_value = "builtin")]
    data: String,
    /// Dense evaluation (the default when neither --dense nor --multi-crop is given).
    #[arg(long)]
    dense: bool,
    /// 5×5 crops × 2 flips per scale through the plain network.
    #[arg(long)]
    multi_crop: bool,
    /// Test scales Q, e.g. 256,384,512. Default: {S−32, S, S+32} (S/8 instead of 32 for S < 256) or {Smin, mid, Smax}
    /// from the first model's training scale, at least its input size.
    #[arg(long, value_delimiter = ',', value_parser = scale, allow_negative_numbers = true)]
    scales: Vec<u32>,
    /// Dense: also evaluate each image's mirror and average the posteriors.
    #[arg(long)]
    flip: bool,
    /// Evaluate only the first N images.
    #[arg(long, value_parser = count, allow_negative_numbers = true)]
    limit: Option<usize>,
    /// Print the table as JSON.
    #[arg(long)]
    json: bool,
    // --labels: the names the data set's classes are matched to (by name when all of
    // them appear, else by index).
    #[command(flatten)]
    names: ClassNames,
    #[command(flatten)]
    overrides: ModelOverrides,
}

pub fn run(ctx: &GpuContext, args: &EvalArgs) -> Result<()> {
    let mut models = args
        .weights
        .iter()
        .map(|p| {
            let mut model = args.overrides.load(ctx, p)?;
            args.names.apply(&mut model)?;
            Ok(model)
        })
        .collect::<Result<Vec<_>>>()?;
    check_ensemble(&models)?;
    let protocol = protocol(ctx, args, &models)?;
    let input = models[0].spec.input_size;
    let data = open_test_set(&args.data, input)?.images;
    let (labels, by_name) = label_map(data.class_names(), &models[0].meta.class_names)?;
    if !by_name {
        eprintln!("note: the data set's class names are not the model's; label i is taken as the model's class i");
    }
    let count = args.limit.unwrap_or(usize::MAX).min(data.len());
    if count == 0 {
        return Err(Error::Data {
            path: args.data.clone().into(),
            message: "has no validation images".into(),
        });
    }
    let tallies = evaluate(ctx, &mut models, &protocol, data.as_ref(), &labels, count)?;
    let names: Vec<String> = models.iter().map(|m| m.origin.clone()).collect();
    if args.json {
        print_json(args, &names, &tallies);
        return Ok(());
    }
    print_table(args, &models[0], &names, &tallies);
    Ok(())
}

/// The testing protocol the options ask for, its scales checked against every model.
fn protocol(ctx: &GpuContext, args: &EvalArgs, models: &[TestModel]) -> Result<Protocol> {
    let first = &models[0];
    let input = first.spec.input_size;
    let scales = if args.scales.is_empty() {
        default_scales(first.meta.train_scale, input as u32)
    } else {
        args.scales.clone()
    };
    for m in models {
        check_scales(&scales, m.spec.input_size as u32)?;
        m.check_scales_fit(ctx, &scales)?;
    }
    Ok(Protocol {
        scales,
        dense: args.dense || !args.multi_crop,
        multi_crop: args.multi_crop,
        flip: args.flip,
    })
}

/// One tally per table row over the first `count` images, with a progress bar;
/// unreadable images are skipped, and the notes about skipped, upscaled and non-finite
/// images printed at the end.
fn evaluate(
    ctx: &GpuContext,
    models: &mut [TestModel],
    protocol: &Protocol,
    data: &dyn Dataset,
    labels: &[usize],
    count: usize,
) -> Result<Vec<(String, Tally)>> {
    let input = models[0].spec.input_size;
    let bar = ProgressBar::new(count as u64);
    bar.set_style(
        ProgressStyle::with_template("eval [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut tallies: Vec<(String, Tally)> = Vec::new();
    let (mut skipped, mut upscaled) = (0, 0);
    for i in 0..count {
        let image = match data.image(i) {
            Ok(image) => image,
            Err(e @ Error::BadImage { .. }) => {
                bar.suspend(|| eprintln!("{}", e.for_terminal()));
                skipped += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        upscaled += (image.width().min(image.height()) < input as u32) as usize;
        let p = pollster::block_on(evaluate_ensemble(ctx, models, &image, protocol))?;
        for (r, (name, posterior)) in table_rows(protocol, &p).into_iter().enumerate() {
            if tallies.len() <= r {
                tallies.push((name, Tally::default()));
            }
            tallies[r].1.add(&posterior, labels[data.label(i) as usize]);
        }
        bar.inc(1);
        if let Some((name, t)) = tallies.last() {
            let (top1, top5) = t.percent();
            bar.set_message(format!("{name}: {top1:.1}% / {top5:.1}%"));
        }
    }
    bar.finish_and_clear();
    print_notes(input, skipped, upscaled, &tallies);
    Ok(tallies)
}

/// Warnings about the images the tallies treat specially.
fn print_notes(input: usize, skipped: usize, upscaled: usize, tallies: &[(String, Tally)]) {
    if upscaled > 0 {
        eprintln!(
            "note: {upscaled} images smaller than the training size {input} were upscaled to Q"
        );
    }
    if skipped > 0 {
        eprintln!("note: {skipped} unreadable images skipped");
    }
    if let Some(broken) = tallies
        .iter()
        .map(|t| t.1.non_finite)
        .max()
        .filter(|&n| n > 0)
    {
        eprintln!(
            "warning: {broken} images got non-finite posteriors (NaN or infinity), each counted as a top-1 and top-5 error: the network's activations overflow on them"
        );
    }
}

fn print_json(args: &EvalArgs, names: &[String], tallies: &[(String, Tally)]) {
    let rows: Vec<_> = tallies
        .iter()
        .map(|(name, t)| {
            let (top1, top5) = t.percent();
            json!({"protocol": name, "top1_error": top1, "top5_error": top5, "images": t.images})
        })
        .collect();
    println!(
        "{}",
        json!({"weights": names, "data": args.data, "rows": rows})
    );
}

/// A heading naming the models and data, then a Markdown table of the rows.
fn print_table(args: &EvalArgs, first: &TestModel, names: &[String], tallies: &[(String, Tally)]) {
    let images = tallies.first().map_or(0, |t| t.1.images);
    println!(
        "{} on {} ({images} images), VGG-{} trained at S={}",
        printable(&names.join(" + ")),
        printable(&args.data),
        first.spec.config,
        scale_text(first.meta.train_scale)
    );
    let width = tallies
        .iter()
        .map(|t| t.0.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    println!("| {:width$} | top-1 err (%) | top-5 err (%) |", "protocol");
    println!(
        "|{}|---------------|---------------|",
        "-".repeat(width + 2)
    );
    for (name, t) in tallies {
        let (top1, top5) = t.percent();
        println!("| {name:width$} | {top1:13.2} | {top5:13.2} |");
    }
}
