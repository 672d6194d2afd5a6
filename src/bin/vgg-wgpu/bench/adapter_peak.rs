//! The adapter's own ceilings (`shaders/peak.wgsl`): its multiply-add rate on values in
//! registers and its storage-load rate, so that a kernel's GFLOP/s can be read as a
//! share of what the adapter can do at all.

use vgg_wgpu::gpu::Tensor;
use vgg_wgpu::kernels::peak::{
    fma_peak, load_peak, FMA_PEAK_FLOPS_PER_ITERATION, LOADS_PER_ITERATION,
};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::kernels::Launch;
use vgg_wgpu::Result;

use super::timer::seconds_per_submission;

/// Invocations of the multiply-add kernel: enough to give every scheduler of a large
/// GPU (an H100: 132 SMs × 4) a dozen warps, with 16 independent chains each; more would
/// only add per-invocation overhead on a CPU adapter.
const FMA_INVOCATIONS: usize = 1 << 18;
/// Invocations of the load kernel: as many loads in flight as a GPU can have.
const LOAD_INVOCATIONS: usize = 1 << 20;
/// Floats the load kernel cycles through: 64 MiB, more than a GPU's last-level cache.
const LOAD_SOURCE: usize = 1 << 24;

/// The adapter's fp32 multiply-add rate on values held in registers, in GFLOP/s.
pub fn fma_gflops(ctx: &GpuContext, min_seconds: f64) -> Result<f64> {
    let x = Tensor::from_f32(
        ctx,
        "peak x",
        &[FMA_INVOCATIONS],
        &vec![0.5; FMA_INVOCATIONS],
    )?;
    let out = Tensor::zeros(ctx, "peak out", &[FMA_INVOCATIONS])?;
    let (iterations, seconds) =
        timed_with_enough_work(ctx, min_seconds, |i| fma_peak(ctx, &x, &out, i))?;
    let flops = FMA_INVOCATIONS as f64 * iterations as f64 * FMA_PEAK_FLOPS_PER_ITERATION;
    Ok(flops / seconds / 1e9)
}

/// The adapter's storage-load rate for consecutive floats, in billions of floats a second.
pub fn load_gfloats(ctx: &GpuContext, min_seconds: f64) -> Result<f64> {
    let src = Tensor::zeros(ctx, "peak source", &[LOAD_SOURCE])?;
    let out = Tensor::zeros(ctx, "peak out", &[LOAD_INVOCATIONS])?;
    let (iterations, seconds) =
        timed_with_enough_work(ctx, min_seconds, |i| load_peak(ctx, &src, &out, i))?;
    let loads = LOAD_INVOCATIONS as f64 * iterations as f64 * LOADS_PER_ITERATION as f64;
    Ok(loads / seconds / 1e9)
}

/// Doubles the iterations from 64 until one run takes 50 ms, then times that:
/// (iterations, seconds per run). Each invocation's fixed work (its start, its sum and
/// store) and each dispatch's overhead then count for little.
fn timed_with_enough_work(
    ctx: &GpuContext,
    min_seconds: f64,
    launches: impl Fn(u32) -> Result<Vec<Launch>>,
) -> Result<(u32, f64)> {
    let mut iterations = 64;
    loop {
        let run = launches(iterations)?;
        let seconds = seconds_per_submission(ctx, &run, 0.0)?;
        if seconds >= 0.05 || iterations >= 1 << 20 {
            return Ok((iterations, seconds_per_submission(ctx, &run, min_seconds)?));
        }
        iterations *= 2;
    }
}
