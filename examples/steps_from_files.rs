//! A few SGD steps through the library's `TrainPlan::step` on weights, images and labels
//! read from files, writing the weights and losses back: the vgg-wgpu side of
//! `benches/vgg16_precision.py`, which writes the inputs and compares the results with
//! PyTorch.
//!
//!     cargo run --example steps_from_files -- DIR CONFIG SIZE BATCH STEPS
//!
//! DIR holds start.safetensors (torchvision's names), images.f32 (STEPS × BATCH × 3 ×
//! SIZE × SIZE, little-endian) and labels.u32 (STEPS × BATCH); the example writes
//! end.safetensors, losses.txt (one mean loss a line) and, for each step k from 1,
//! activations_k.safetensors (every op's output in that step's forward pass, named
//! "NN op-name" in op order, with a conv or linear op's ReLU applied) there. SGD: lr
//! 0.01, momentum 0.9, weight decay 5e-4, dropout 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vgg_wgpu::gpu::AdapterChoice;
use vgg_wgpu::graph::{Network, ParamSet, TrainPlan};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::{ModelSpec, WeightFile};
use vgg_wgpu::shape::SgdHyper;

fn main() -> vgg_wgpu::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, config, size, batch, steps] = args.as_slice() else {
        panic!("usage: steps_from_files DIR CONFIG SIZE BATCH STEPS");
    };
    let number = |s: &str| {
        s.parse::<usize>()
            .expect("SIZE, BATCH and STEPS are numbers")
    };
    pollster::block_on(run(
        Path::new(dir),
        config.parse()?,
        number(size),
        number(batch),
        number(steps),
    ))
}

async fn run(
    dir: &Path,
    config: vgg_wgpu::model::Config,
    size: usize,
    batch: usize,
    steps: usize,
) -> vgg_wgpu::Result<()> {
    let ctx = GpuContext::new(&AdapterChoice::default()).await?;
    println!("adapter: {}", ctx.describe());
    let start = WeightFile::load(&dir.join("start.safetensors"))?;
    let classes = start.tensors["classifier.6.bias"].0[0];
    let spec = ModelSpec {
        config,
        classes,
        input_size: size,
        width_divisor: 1,
    };
    let params = ParamSet::upload(&ctx, &spec, &start, "start.safetensors")?;
    let net = Network::new(&spec, 0.0);
    let plan = TrainPlan::new(&ctx, &net, params, batch, 1, 1).await?;

    let images = floats(&read(dir.join("images.f32")));
    let labels: Vec<u32> = read(dir.join("labels.u32"))
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let hyper = SgdHyper {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        grad_scale: 1.0,
    };
    let image_len = 3 * size * size;
    let mut losses = String::new();
    for step in 0..steps {
        let samples = step * batch..(step + 1) * batch;
        let pixels = &images[samples.start * image_len..samples.end * image_len];
        let stats = plan
            .step(&ctx, pixels, &labels[samples], &hyper, 0, step as u32)
            .await?;
        println!("step {step}: loss {:.9}", stats.mean_loss());
        losses += &format!("{:.12e}\n", stats.mean_loss());
        let mut tensors = BTreeMap::new();
        for (i, values) in plan
            .activations(&ctx)
            .await?
            .into_iter()
            .enumerate()
            .skip(1)
        {
            let name = format!("{i:02} {}", net.ops[i - 1].name());
            tensors.insert(name, (net.activation_shape(i, batch), values));
        }
        let activations = WeightFile {
            tensors,
            ..WeightFile::default()
        };
        activations.save(&dir.join(format!("activations_{}.safetensors", step + 1)))?;
    }
    plan.params
        .download(&ctx)
        .await?
        .save(&dir.join("end.safetensors"))?;
    std::fs::write(dir.join("losses.txt"), losses).expect("write losses.txt");
    Ok(())
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
