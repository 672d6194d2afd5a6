//! What every kernel test needs: the GPU, fresh random inputs, NaN-poisoned outputs,
//! and a comparison against the oracle that says where it fails.

use std::sync::OnceLock;

use rand::{rngs::StdRng, Rng, SeedableRng};
use vgg_wgpu::gpu::{AdapterChoice, GpuContext, Tensor};
use vgg_wgpu::kernels::{submit, Launch};

/// Bounds on ‖gpu − oracle‖ / ‖oracle‖ for fp32.
pub const FORWARD_TOLERANCE: f64 = 1e-5;
pub const BACKWARD_TOLERANCE: f64 = 1e-4;

/// The shared device. No adapter is a test failure, not a skip: a test that passes
/// without running its kernel proves nothing.
pub fn gpu() -> &'static GpuContext {
    static GPU: OnceLock<GpuContext> = OnceLock::new();
    GPU.get_or_init(|| open_gpu(None))
}

/// A separate device whose tensors split into chunks of at most `bytes` bytes.
pub fn gpu_with_binding_limit(bytes: u64) -> GpuContext {
    open_gpu(Some(bytes))
}

/// A separate device on which kernels use no subgroup operations: the fallbacks that
/// adapters without subgroups (or with subgroups under 8 invocations) run.
pub fn gpu_without_subgroups() -> GpuContext {
    let mut ctx = open_gpu(None);
    ctx.subgroup_kernels = false;
    ctx
}

/// A separate device on which the subgroup conv kernel uses the tile shape `tile`
/// (rows, target channels) instead of the autotuner's choice.
pub fn gpu_with_conv_tile(tile: (u32, u32)) -> GpuContext {
    let mut ctx = open_gpu(None);
    ctx.conv_tile = Some(tile);
    ctx
}

fn open_gpu(binding_limit: Option<u64>) -> GpuContext {
    let choice = AdapterChoice {
        backend: std::env::var("VGG_WGPU_BACKEND").ok(),
        name_contains: std::env::var("VGG_WGPU_ADAPTER").ok(),
    };
    let mut ctx = pollster::block_on(GpuContext::new(&choice))
        .unwrap_or_else(|e| panic!("kernel tests need a GPU adapter: {e}"));
    if let Some(limit) = binding_limit {
        ctx.binding_limit = limit;
    }
    ctx
}

/// A seeded generator; the seed is fresh each run unless `VGG_WGPU_TEST_SEED` fixes it,
/// and it is printed so a failure can be replayed.
pub fn rng(test: &str) -> StdRng {
    let seed = std::env::var("VGG_WGPU_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    println!("{test}: VGG_WGPU_TEST_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// `n` values uniform in [-1, 1).
pub fn random(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

pub fn upload(ctx: &GpuContext, label: &str, shape: &[usize], data: &[f32]) -> Tensor {
    Tensor::from_f32(ctx, label, shape, data).expect("upload")
}

/// An output tensor filled with NaN, so any element a kernel forgets to write fails.
pub fn poisoned(ctx: &GpuContext, label: &str, shape: &[usize]) -> Tensor {
    let t = Tensor::zeros(ctx, label, shape).expect("allocate");
    t.fill_f32(ctx, f32::NAN);
    t
}

pub fn run(ctx: &GpuContext, launches: &[Launch]) {
    submit(ctx, launches);
}

pub fn read(ctx: &GpuContext, t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.read_f32(ctx)).expect("readback")
}

/// Asserts ‖gpu − reference‖ / ‖reference‖ ≤ `tolerance` and that nothing is NaN;
/// prints the error, and on failure the first mismatching indices.
pub fn check(name: &str, gpu: &[f32], reference: &[f32], tolerance: f64) {
    assert_eq!(gpu.len(), reference.len(), "{name}: length");
    let diff: f64 = gpu
        .iter()
        .zip(reference)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = reference
        .iter()
        .map(|&b| (b as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let relative = if norm > 0.0 { diff / norm } else { diff };
    println!(
        "{name}: relative error {relative:.3e} over {} elements",
        gpu.len()
    );
    let nan = gpu.iter().position(|v| v.is_nan());
    if relative <= tolerance && nan.is_none() {
        return;
    }
    let scale = (norm / (reference.len().max(1) as f64).sqrt()).max(1e-30);
    let worst: Vec<String> = gpu
        .iter()
        .zip(reference)
        .enumerate()
        .filter(|(_, (&a, &b))| a.is_nan() || ((a - b).abs() as f64) > tolerance * scale * 10.0)
        .take(5)
        .map(|(i, (a, b))| format!("[{i}] gpu {a} vs oracle {b}"))
        .collect();
    panic!(
        "{name}: relative error {relative:.3e} > {tolerance:e} (first NaN at {nan:?}); first mismatches: {}",
        worst.join(", ")
    );
}

/// Asserts |gpu[i] − reference[i]| ≤ bound[i] for every element, for kernels whose
/// error is best bounded element by element (a cancelling sum is only as exact as its
/// terms are large); prints the largest error as a fraction of its bound.
pub fn check_within(name: &str, gpu: &[f32], reference: &[f32], bound: &[f64]) {
    assert_eq!(gpu.len(), reference.len(), "{name}: length");
    assert_eq!(bound.len(), reference.len(), "{name}: bound length");
    let mut worst = (0.0f64, 0usize);
    for (i, ((&a, &b), &limit)) in gpu.iter().zip(reference).zip(bound).enumerate() {
        let error = (a as f64 - b as f64).abs();
        let used = if error == 0.0 { 0.0 } else { error / limit };
        assert!(
            used <= 1.0,
            "{name}: [{i}] gpu {a} vs oracle {b}: error {error:.3e} > bound {limit:.3e}"
        );
        if used > worst.0 {
            worst = (used, i);
        }
    }
    println!(
        "{name}: worst error {:.2} of its bound (element {}) over {} elements",
        worst.0,
        worst.1,
        gpu.len()
    );
}
