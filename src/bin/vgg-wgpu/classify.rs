//! `vgg-wgpu classify`: the top classes of image files by dense evaluation with flips (or
//! without, `--no-flip`), averaged over the test scales; optionally the top class's score map
//! drawn over the image.

use std::path::{Path, PathBuf};

use clap::Args;
use image::RgbImage;
use serde_json::json;
use vgg_wgpu::data::image_folder::read_image;
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::eval::heatmap::overlay;
use vgg_wgpu::eval::input::Planes;
use vgg_wgpu::eval::protocol::{check_scales, mean, top_k};
use vgg_wgpu::eval::{default_scales, evaluate_image, Protocol, TestModel};
use vgg_wgpu::kernels::GpuContext;

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
    /// Write the image with the top class's score map over it (PNG); with several
    /// images, the image's name is added to this file name.
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
    for path in &args.images {
        let image = match readable(&model, ctx, path, &protocol) {
            Ok(image) => image,
            Err(message) => {
                eprintln!("error: {}: {message}", path.display());
                results.push((path, Err(message)));
                continue;
            }
        };
        let answer = classify(ctx, &mut model, &image, &protocol, args.top)?;
        if let Some(out) = &args.heatmap {
            let file = heatmap_path(out, path, args.images.len() > 1);
            write_heatmap(ctx, &mut model, &image, &protocol, answer.top[0], &file)?;
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
        })?;
    eprintln!(
        "heat map of '{}' written to {}",
        model.meta.class_names[class],
        file.display()
    );
    Ok(())
}

fn print_answer(model: &TestModel, path: &Path, answer: &Classified) {
    println!("{}", path.display());
    for &c in &answer.top {
        println!(
            "  {:6.2}%  {}",
            100.0 * answer.posterior[c],
            model.meta.class_names[c]
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

fn heatmap_path(out: &Path, image: &Path, several: bool) -> PathBuf {
    if !several {
        return out.to_path_buf();
    }
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    out.with_file_name(format!("{}-{}.png", stem(out), stem(image)))
}
