//! `vgg-wgpu classify`: the top classes of image files by dense evaluation with flips (or
//! without, `--no-flip`), averaged over the test scales; optionally the top class's score map
//! drawn over the image.

use std::path::{Path, PathBuf};

use clap::Args;
use image::RgbImage;
use serde_json::json;
use vgg_wgpu::data::image_folder::read_image;
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::eval::heatmap::{heatmap_files, overlay};
use vgg_wgpu::eval::input::Planes;
use vgg_wgpu::eval::protocol::{check_scales, mean, top_k};
use vgg_wgpu::eval::{default_scales, evaluate_image, Protocol, TestModel};
use vgg_wgpu::input_file::check_not_an_input;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::terminal::{printable, printable_path};

use crate::test_options::{count, scale, ClassNames, ModelOverrides};

#[derive(Args)]
pub struct ClassifyArgs {
    /// JPEG or PNG files.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[arg(long)]
    weights: PathBuf,
    /// How many classes to list per image (at least 1).
    #[arg(long, default_value_t = 5, value_parser = count, allow_negative_numbers = true)]
    top: usize,
    /// Test scales Q (default: from the model's training scale).
    #[arg(long, value_delimiter = ',', value_parser = scale, allow_negative_numbers = true)]
    scales: Vec<u32>,
    /// Leave out each image's mirror: half the work. With --scales Q at the smallest
    /// default scale, the page's quick protocol.
    #[arg(long)]
    no_flip: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Write the image with the top class's score map over it (PNG). With several
    /// images, each goes to <name>-<image name>.png beside this file, and -2, -3, … are
    /// added when two images have the same name. Never one of the inputs.
    #[arg(long)]
    heatmap: Option<PathBuf>,
    #[command(flatten)]
    names: ClassNames,
    #[command(flatten)]
    overrides: ModelOverrides,
}

/// The top classes of one image, most probable first, and its whole posterior.
struct Classified {
    top: Vec<usize>,
    posterior: Vec<f32>,
}

/// Classifies every readable image; an image that cannot be read or does not fit the
/// adapter is reported with its path and the others still get their answer, and the
/// command fails at the end.
pub fn run(ctx: &GpuContext, args: &ClassifyArgs) -> Result<()> {
    let heatmaps = match &args.heatmap {
        Some(out) => heatmap_files(out, &args.images),
        None => Vec::new(),
    };
    for file in &heatmaps {
        check_not_an_input(file, "--heatmap", inputs(args))?;
    }
    let mut model = args.overrides.load(ctx, &args.weights)?;
    args.names.apply(&mut model)?;
    let input = model.spec.input_size as u32;
    let scales = if args.scales.is_empty() {
        default_scales(model.meta.train_scale, input)
    } else {
        args.scales.clone()
    };
    check_scales(&scales, input)?;
    model.check_scales_fit(ctx, &scales)?;
    let protocol = Protocol {
        scales,
        dense: true,
        multi_crop: false,
        flip: !args.no_flip,
    };
    let mut results = Vec::new();
    for (i, path) in args.images.iter().enumerate() {
        let image = match readable(&model, ctx, path, &protocol) {
            Ok(image) => image,
            Err(message) => {
                eprintln!("error: {}: {}", printable_path(path), printable(&message));
                results.push((path, Err(message)));
                continue;
            }
        };
        let answer = classify(ctx, &mut model, &image, &protocol, args.top)?;
        if let Some(file) = heatmaps.get(i) {
            let class = answer.top[0];
            write_heatmap(ctx, &mut model, &image, &protocol, class, file)?;
            eprintln!(
                "heat map of '{}' in {} written to {}",
                printable(&model.meta.class_names[class]),
                printable_path(path),
                printable_path(file)
            );
        }
        if !args.json {
            print_answer(&model, path, &answer);
        }
        results.push((path, Ok(answer)));
    }
    if args.json {
        print_json(&model, &results);
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.1.is_err())
        .map(|r| r.0.display().to_string())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        op: "classify",
        message: format!(
            "{} of {} images could not be classified: {}",
            failed.len(),
            args.images.len(),
            failed.join(", ")
        ),
    })
}

/// The files a user gave, each with what it is.
fn inputs(args: &ClassifyArgs) -> impl Iterator<Item = (&Path, &'static str)> {
    let images = args.images.iter().map(|p| (p.as_path(), "the image"));
    let weights = [(args.weights.as_path(), "--weights")];
    let labels = args.names.file().map(|p| (p, "--labels"));
    images.chain(weights).chain(labels)
}

/// The decoded image, or why it cannot be classified: unreadable, or too large at one
/// of the scales for this adapter (checked before the rescale allocates anything).
fn readable(
    model: &TestModel,
    ctx: &GpuContext,
    path: &Path,
    protocol: &Protocol,
) -> std::result::Result<RgbImage, String> {
    let image = read_image(path)?;
    for &q in &protocol.scales {
        model
            .check_input_size(ctx, image.dimensions(), q)
            .map_err(|e| e.to_string())?;
    }
    Ok(image)
}

fn classify(
    ctx: &GpuContext,
    model: &mut TestModel,
    image: &RgbImage,
    protocol: &Protocol,
    top: usize,
) -> Result<Classified> {
    let p = pollster::block_on(evaluate_image(ctx, model, image, protocol))?;
    let posterior = mean(&p.dense);
    Ok(Classified {
        top: top_k(&posterior, top),
        posterior,
    })
}

/// `image` with `class`'s score map over it, written to `file`.
fn write_heatmap(
    ctx: &GpuContext,
    model: &mut TestModel,
    image: &RgbImage,
    protocol: &Protocol,
    class: usize,
    file: &Path,
) -> Result<()> {
    // The largest scale gives the finest map.
    let q = protocol.scales.iter().copied().max().unwrap_or(1);
    let planes = Planes::rescaled(image, q, &model.meta.preprocessing)?;
    let plan = pollster::block_on(model.dense_plan(ctx, 1, planes.height, planes.width))?;
    pollster::block_on(plan.run(ctx, &planes.data))?;
    let map = pollster::block_on(plan.score_map(ctx))?;
    let (h, w) = (plan.map_shape.height, plan.map_shape.width);
    let plane = &map[class * h * w..][..h * w];
    overlay(image, plane, h, w)
        .save(file)
        .map_err(|source| Error::Image {
            path: file.to_path_buf(),
            what: "cannot write the heat map".into(),
            source,
        })
}

fn print_answer(model: &TestModel, path: &Path, answer: &Classified) {
    println!("{}", printable_path(path));
    for &c in &answer.top {
        println!(
            "  {:6.2}%  {}",
            100.0 * answer.posterior[c],
            printable(&model.meta.class_names[c])
        );
    }
}

/// One object per image in the order given: its top classes, or why it has none.
fn print_json(model: &TestModel, results: &[(&PathBuf, std::result::Result<Classified, String>)]) {
    let names = &model.meta.class_names;
    let out: Vec<_> = results
        .iter()
        .map(|(path, result)| match result {
            Ok(a) => {
                let classes: Vec<_> = a
                    .top
                    .iter()
                    .map(|&c| json!({"class": c, "name": names[c], "probability": a.posterior[c]}))
                    .collect();
                json!({"image": path.display().to_string(), "top": classes})
            }
            Err(why) => json!({"image": path.display().to_string(), "error": why}),
        })
        .collect();
    println!("{}", serde_json::Value::Array(out));
}
