//! Using the library directly, without the CLI: open a GPU, compile a small VGG's
//! training plan once, and run SGD steps on the built-in data set.
//!
//!     cargo run --release --example library_training_step

use vgg_wgpu::data::{Dataset, Split, SyntheticDataset};
use vgg_wgpu::gpu::AdapterChoice;
use vgg_wgpu::graph::{Network, ParamSet, TrainPlan};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::{Config, ModelSpec};
use vgg_wgpu::shape::SgdHyper;
use vgg_wgpu::train::init::{random_weights, Init};

fn main() -> vgg_wgpu::Result<()> {
    pollster::block_on(run())
}

async fn run() -> vgg_wgpu::Result<()> {
    let ctx = GpuContext::new(&AdapterChoice::default()).await?;
    println!("adapter: {}", ctx.describe());

    // VGG-A with every width ÷8 on 32×32 images of 10 classes.
    let spec = ModelSpec {
        config: Config::A,
        classes: 10,
        input_size: 32,
        width_divisor: 8,
    };
    let net = Network::new(&spec, 0.5);
    let params = ParamSet::upload(
        &ctx,
        &spec,
        &random_weights(&spec, &Init::Glorot, 0),
        "random init",
    )?;
    let batch = 32;
    let plan = TrainPlan::new(&ctx, &net, params, batch, 1, 1).await?;

    // Raw pixels minus a mid-grey, no augmentation: the trainer does the paper's recipe.
    let data = SyntheticDataset::new(0, Split::Train, 20 * batch, 32)?;
    let hyper = SgdHyper {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        grad_scale: 1.0,
    };
    for step in 0..20 {
        let mut images = Vec::with_capacity(batch * 3 * 32 * 32);
        let mut labels = Vec::with_capacity(batch);
        for i in step * batch..(step + 1) * batch {
            let image = data.image(i)?;
            for c in 0..3 {
                images.extend(image.pixels().map(|p| p[c] as f32 - 128.0));
            }
            labels.push(data.label(i));
        }
        let stats = plan
            .step(&ctx, &images, &labels, &hyper, 0, step as u32)
            .await?;
        println!(
            "step {step:2}: loss {:.3}, batch accuracy {:.0}%",
            stats.mean_loss(),
            100.0 * stats.top1_hits / batch as f64
        );
    }
    Ok(())
}
