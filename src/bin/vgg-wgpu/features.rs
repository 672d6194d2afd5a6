//! `vgg-wgpu features`: the penultimate layer (FC2 after ReLU) as an image descriptor
//! (the paper's Appendix B): dense FC2 maps averaged over positions, the image and its
//! mirror, and the test scales, written as safetensors.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::eval::{default_scales, evaluate_image, open_test_set, Protocol, TestModel};
use vgg_wgpu::gpu::GpuContext;
use vgg_wgpu::model::WeightFile;

#[derive(Args)]
pub struct FeaturesArgs {
    #[arg(long)]
    weights: PathBuf,
    /// `builtin` or a folder with val/<class>/*.jpg.
    #[arg(long)]
    data: String,
    /// Output: tensors `features` (N, D) and `labels` (N), with the image list and class
    /// names in the metadata.
    #[arg(long)]
    out: PathBuf,
    /// Test scales Q (default: from the model's training scale).
    #[arg(long, value_delimiter = ',')]
    scales: Vec<u32>,
    /// Only the first N images.
    #[arg(long)]
    limit: Option<usize>,
}

pub fn run(ctx: &GpuContext, args: &FeaturesArgs) -> Result<()> {
    let mut model = TestModel::load(ctx, &args.weights)?;
    let scales = if args.scales.is_empty() {
        default_scales(model.meta.train_scale, model.spec.input_size as u32)
    } else {
        args.scales.clone()
    };
    let protocol = Protocol {
        scales: scales.clone(),
        dense: true,
        multi_crop: false,
        flip: true,
    };
    let set = open_test_set(&args.data, model.spec.input_size)?;
    let count = args.limit.unwrap_or(usize::MAX).min(set.images.len());
    let bar = ProgressBar::new(count as u64);
    bar.set_style(
        ProgressStyle::with_template("features [{bar:30}] {pos}/{len} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let (mut features, mut labels, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..count {
        let image = match set.images.image(i) {
            Ok(image) => image,
            Err(e @ Error::BadImage { .. }) => {
                bar.suspend(|| eprintln!("{e}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        let p = pollster::block_on(evaluate_image(ctx, &mut model, &image, &protocol))?;
        features.extend(p.features);
        labels.push(set.images.label(i) as f32);
        names.push(set.names[i].clone());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let dim = model.spec.fc_width();
    let mut file = WeightFile::default();
    file.tensors
        .insert("features".into(), (vec![names.len(), dim], features));
    file.tensors
        .insert("labels".into(), (vec![names.len()], labels));
    let meta = [
        ("images", serde_json::json!(names)),
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
    file.save(&args.out)?;
    println!(
        "{} features of {dim} values written to {}",
        names.len(),
        args.out.display()
    );
    Ok(())
}
