//! `vgg-wgpu bench peak`: the adapter's own ceilings (`shaders/peak.wgsl`), so that
//! kernel GFLOP/s can be read as a share of what the adapter can do at all: its
//! multiply-add rate on values in registers, its storage-load rate, and numpy's SGEMM on
//! the CPU for scale.

use vgg_wgpu::gpu::{GpuContext, Tensor};
use vgg_wgpu::kernels::peak::{
    fma_peak, load_peak, FMA_PEAK_FLOPS_PER_ITERATION, LOADS_PER_ITERATION,
};
use vgg_wgpu::kernels::Launch;
use vgg_wgpu::Result;

use super::bench::{cpu_reference, time, BenchArgs};

/// Invocations of the multiply-add kernel: enough to give every scheduler of a large
/// GPU (an H100: 132 SMs × 4) a dozen warps, with 16 independent chains each; more would
/// only add per-invocation overhead on a CPU adapter.
const FMA_INVOCATIONS: usize = 1 << 18;
/// Invocations of the load kernel: as many loads in flight as a GPU can have.
const LOAD_INVOCATIONS: usize = 1 << 20;
/// Floats the load kernel cycles through: 64 MiB, more than a GPU's last-level cache.
const LOAD_SOURCE: usize = 1 << 24;
/// The square SGEMM numpy times for scale.
const SGEMM_SIDE: usize = 2048;

pub fn run(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let cpu = if args.no_cpu_reference {
        None
    } else {
        let side = [SGEMM_SIDE; 3];
        cpu_reference::numpy_sgemm_gflops(&[side], args.min_seconds)
            .map_err(|why| eprintln!("CPU reference unavailable: {why}"))
            .ok()
            .map(|g| g[0])
    };
    let fma = fma_gflops(ctx, args.min_seconds)?;
    let loads = load_gfloats(ctx, args.min_seconds)?;
    // Multiply-adds the adapter can do in the time of one load.
    let balance = fma / 2.0 / loads;
    if args.json {
        println!("{{\"pass\":\"fma peak\",\"gflop_per_s\":{fma:.3}}}");
        println!("{{\"pass\":\"storage loads\",\"gfloats_per_s\":{loads:.4},\"fma_per_load\":{balance:.2}}}");
        if let Some(cpu) = cpu {
            println!(
                "{{\"pass\":\"numpy sgemm {SGEMM_SIDE}\",\"gflop_per_s\":{cpu:.3},\"fma_peak_ratio_to_numpy\":{:.4}}}",
                fma / cpu
            );
        }
        return Ok(());
    }
    println!("adapter: {}", ctx.describe());
    println!("multiply-add peak (fp32, values in registers): {fma:9.2} GFLOP/s");
    println!(
        "storage loads (consecutive floats):            {loads:9.3} G floats/s ({:.1} GB/s): \
         a kernel needs {balance:.0} multiply-adds per float loaded to reach the peak",
        loads * 4.0
    );
    if let Some(cpu) = cpu {
        println!(
            "numpy SGEMM {SGEMM_SIDE}³ on the CPU:                {cpu:9.2} GFLOP/s; adapter peak ÷ numpy {:.2}",
            fma / cpu
        );
    }
    Ok(())
}

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
fn load_gfloats(ctx: &GpuContext, min_seconds: f64) -> Result<f64> {
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
        let seconds = time(ctx, &run, 0.0)?;
        if seconds >= 0.05 || iterations >= 1 << 20 {
            return Ok((iterations, time(ctx, &run, min_seconds)?));
        }
        iterations *= 2;
    }
}
