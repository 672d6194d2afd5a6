//! The testing protocol on the GPU: dense evaluation against the plain forward pass and
//! the sliding-classifier oracle, flips, crops, weight files and bad input.

#[path = "../kernels/harness.rs"]
#[allow(dead_code)]
mod harness;

mod cpu_engine;
mod dense;
mod inputs;
mod out_of_memory;
mod weights;

use rand::rngs::StdRng;
use vgg_wgpu::model::{Config, ModelSpec, WeightFile};
use vgg_wgpu::train::init::{random_weights, Init};

/// A small network: widths ÷16, `classes` classes, `input` pixels.
pub fn small(config: Config, input: usize, classes: usize) -> ModelSpec {
    ModelSpec {
        config,
        classes,
        input_size: input,
        width_divisor: 16,
    }
}

/// Glorot weights with random (non-zero) biases, and no metadata: torchvision's layout.
pub fn weights(spec: &ModelSpec, rng: &mut StdRng) -> WeightFile {
    let mut w = random_weights(spec, &Init::Glorot, 5);
    for p in spec.parameters().iter().filter(|p| p.is_bias) {
        let n = p.shape[0];
        let values = harness::random(rng, n).iter().map(|v| v * 0.1).collect();
        w.tensors.insert(p.name.clone(), (p.shape.clone(), values));
    }
    w
}

/// Images (n, 3, h, w) at roughly pixel scale.
pub fn images(rng: &mut StdRng, n: usize, h: usize, w: usize) -> Vec<f32> {
    harness::random(rng, n * 3 * h * w)
        .iter()
        .map(|v| v * 50.0)
        .collect()
}

/// A scratch folder for this test process.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vgg-wgpu-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
