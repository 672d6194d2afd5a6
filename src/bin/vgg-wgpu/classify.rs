//! `vgg-wgpu classify`: the top classes of image files by dense evaluation with flips,
//! averaged over the test scales; optionally the top class's score map drawn over the
//! image.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use vgg_wgpu::data::image_folder::decode;
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::eval::heatmap::overlay;
use vgg_wgpu::eval::input::Planes;
use vgg_wgpu::eval::protocol::{mean, top_k};
use vgg_wgpu::eval::{default_scales, evaluate_image, Protocol, TestModel};
use vgg_wgpu::gpu::GpuContext;
use vgg_wgpu::model::meta::read_class_names;

#[derive(Args)]
pub struct ClassifyArgs {
    /// JPEG or PNG files.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[arg(long)]
    weights: PathBuf,
    /// How many classes to list per image.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Test scales Q (default: from the model's training scale).
    #[arg(long, value_delimiter = ',')]
    scales: Vec<u32>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Write the image with the top class's score map over it (PNG); with several
    /// images, the image's name is added to this file name.
    #[arg(long)]
    heatmap: Option<PathBuf>,
    /// A text file with one class name per line, in the model's class order, to use
    /// instead of the names in the weights' metadata (imported torchvision weights
    /// carry none: their classes show as "class N").
    #[arg(long)]
    labels: Option<PathBuf>,
}

pub fn run(ctx: &GpuContext, args: &ClassifyArgs) -> Result<()> {
    let mut model = TestModel::load(ctx, &args.weights)?;
    if let Some(path) = &args.labels {
        model.meta.class_names = read_class_names(path, model.spec.classes)?;
    }
    let input = model.spec.input_size as u32;
    let scales = if args.scales.is_empty() {
        default_scales(model.meta.train_scale, input)
    } else {
        args.scales.clone()
    };
    let protocol = Protocol {
        scales,
        dense: true,
        multi_crop: false,
        flip: true,
    };
    let mut results = Vec::new();
    for path in &args.images {
        let image = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode(&bytes))
            .map_err(|message| Error::Data {
                path: path.clone(),
                message,
            })?;
        let p = pollster::block_on(evaluate_image(ctx, &mut model, &image, &protocol))?;
        let posterior = mean(&p.dense);
        let top = top_k(&posterior, args.top);
        if let Some(out) = &args.heatmap {
            // The largest scale gives the finest map.
            let q = protocol.scales.iter().copied().max().unwrap_or(input);
            let planes = Planes::rescaled(&image, q, &model.meta.preprocessing)?;
            let plan = model.dense_plan(ctx, 1, planes.height, planes.width)?;
            pollster::block_on(plan.run(ctx, &planes.data))?;
            let map = pollster::block_on(plan.score_map(ctx))?;
            let (h, w) = (plan.map_shape.height, plan.map_shape.width);
            let plane = &map[top[0] * h * w..][..h * w];
            let file = heatmap_path(out, path, args.images.len() > 1);
            overlay(&image, plane, h, w)
                .save(&file)
                .map_err(|e| Error::Io {
                    path: file.display().to_string(),
                    message: format!("cannot write the heat map: {e}"),
                })?;
            eprintln!(
                "heat map of '{}' written to {}",
                model.meta.class_names[top[0]],
                file.display()
            );
        }
        results.push((path, top, posterior));
    }
    let names = &model.meta.class_names;
    if args.json {
        let out: Vec<_> = results
            .iter()
            .map(|(path, top, p)| {
                let classes: Vec<_> = top
                    .iter()
                    .map(|&c| json!({"class": c, "name": names[c], "probability": p[c]}))
                    .collect();
                json!({"image": path.display().to_string(), "top": classes})
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return Ok(());
    }
    for (path, top, p) in &results {
        println!("{}", path.display());
        for &c in top {
            println!("  {:6.2}%  {}", 100.0 * p[c], names[c]);
        }
    }
    Ok(())
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
