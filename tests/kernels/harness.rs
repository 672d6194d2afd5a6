//! What every kernel test needs: the GPU, fresh random inputs, NaN-poisoned outputs,
//! and a comparison against the oracle that says where it fails.

use std::sync::OnceLock;

use rand::{rngs::StdRng, Rng, SeedableRng};
use vgg_wgpu::gpu::{AdapterChoice, Tensor};
use vgg_wgpu::kernels::GpuContext;
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

/// A device of its own on the same adapter, as data-parallel replicas have.
pub fn separate_gpu() -> GpuContext {
    open_gpu(None)
}

/// A separate device whose tensors split into chunks of at most `bytes` bytes.
pub fn gpu_with_binding_limit(bytes: u64) -> GpuContext {
    open_gpu(Some(bytes))
}

/// A separate device whose fallback conv kernels (those without subgroups) compute
/// `rows` output rows per invocation (1 is what SwiftShader gets, see
/// `vgg_wgpu::kernels::settings::KernelSettings::for_adapter`).
pub fn gpu_with_conv_tile_rows(rows: u32) -> GpuContext {
    let mut ctx = gpu_without_subgroups();
    ctx.settings.conv_tile_rows = rows;
    ctx
}

/// A separate device on which kernels use no subgroup operations: the fallbacks that
/// adapters without subgroups (or with subgroups under 4 invocations) run.
pub fn gpu_without_subgroups() -> GpuContext {
    let mut ctx = open_gpu(None);
    ctx.settings.subgroups = false;
    ctx.settings.conv_lanes = false;
    ctx.settings.conv_winograd = false;
    ctx.settings.conv_tiles = false;
    ctx.settings.linear_lanes = false;
    ctx
}

/// A separate device whose convolutions run the workgroup-tiled kernels (what adapters
/// that are not CPUs get) with `GROUP_T` fixed to `group_t`; `binding_limit` as in
/// [`gpu_with_binding_limit`].
pub fn gpu_with_conv_tiles(group_t: u32, binding_limit: Option<u64>) -> GpuContext {
    let mut ctx = open_gpu(binding_limit);
    ctx.settings.conv_tiles = true;
    ctx.settings.conv_tile_group = Some(group_t);
    ctx.settings.conv_winograd = false;
    ctx
}

/// A separate device whose linear forward passes run `linear_lanes.wgsl` (what
/// SwiftShader gets) where K is a multiple of 4, `linear.wgsl` elsewhere.
pub fn gpu_with_linear_lanes() -> GpuContext {
    let mut ctx = gpu_without_subgroups();
    ctx.settings.linear_lanes = true;
    ctx
}

/// A separate device whose conv forward and input gradient run `conv2d_lanes.wgsl`
/// (what SwiftShader gets where no subgroup kernel runs) wherever its copies fit, also
/// where it would be slower than `conv2d.wgsl`.
pub fn gpu_with_conv_lanes() -> GpuContext {
    let mut ctx = gpu_without_subgroups();
    ctx.settings.conv_lanes = true;
    ctx.settings.conv_ignore_speed_rules = true;
    ctx
}

/// A separate device whose 3×3 forward convolutions at inference run Winograd's
/// F(4×4, 3×3) (what SwiftShader gets), the others `conv2d_lanes.wgsl`.
pub fn gpu_with_winograd() -> GpuContext {
    let mut ctx = gpu_with_conv_lanes();
    ctx.settings.conv_winograd = true;
    ctx
}

/// A separate device on which the subgroup conv kernel uses the tile shape `tile`
/// (rows, target channels) instead of the autotuner's choice.
pub fn gpu_with_conv_tile(tile: (u32, u32)) -> GpuContext {
    let mut ctx = open_gpu(None);
    ctx.settings.conv_tile = Some(tile);
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
    check_scaled(name, gpu, reference, reference, tolerance);
}

/// Element-wise absolute values: run an op of sums (conv, linear, mean) on the absolute
/// values of its inputs to get the magnitude of the terms behind each output.
pub fn abs(values: &[f32]) -> Vec<f32> {
    values.iter().map(|v| v.abs()).collect()
}

/// As `check`, but relative to ‖magnitude‖, the oracle's output on the inputs' absolute
/// values. fp32 rounding of a sum is bounded by the size of its terms, not of its result:
/// a small output whose terms cancel (two outputs, one clamped by ReLU, say) carries
/// the rounding of its large terms, and a bound relative to the output itself fails on
/// it by chance.
pub fn check_scaled(name: &str, gpu: &[f32], reference: &[f32], magnitude: &[f32], tolerance: f64) {
    assert_eq!(magnitude.len(), reference.len(), "{name}: magnitude length");
    assert_eq!(gpu.len(), reference.len(), "{name}: length");
    let diff: f64 = gpu
        .iter()
        .zip(reference)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = magnitude
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
    // The five largest differences (NaN counts as the largest).
    let mut order: Vec<usize> = (0..gpu.len()).collect();
    let difference = |i: usize| {
        let d = (gpu[i] as f64 - reference[i] as f64).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    };
    order.sort_by(|&i, &j| difference(j).total_cmp(&difference(i)));
    let worst: Vec<String> = order
        .iter()
        .take(5)
        .map(|&i| format!("[{i}] gpu {} vs oracle {}", gpu[i], reference[i]))
        .collect();
    panic!(
        "{name}: relative error {relative:.3e} > {tolerance:e} (first NaN at {nan:?}); largest differences: {}",
        worst.join(", ")
    );
}
