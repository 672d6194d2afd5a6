//! The one timing loop of `vgg-wgpu bench`: a warm-up run, then repeats until a
//! minimum time has passed, so that short runs are averaged over many.

use std::time::Instant;

use vgg_wgpu::gpu::readback::wait_for_queue;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::kernels::{submit, Launch};
use vgg_wgpu::Result;

/// Seconds per call of `run`: one warm-up call (pipelines, caches, first allocations),
/// then at least one timed call, repeated until `min_seconds` have passed.
pub fn seconds_per_run(min_seconds: f64, mut run: impl FnMut() -> Result<()>) -> Result<f64> {
    run()?;
    let start = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || start.elapsed().as_secs_f64() < min_seconds {
        run()?;
        runs += 1;
    }
    Ok(start.elapsed().as_secs_f64() / runs as f64)
}

/// Seconds per submission of `launches`, each waited for until the queue is idle.
pub fn seconds_per_submission(
    ctx: &GpuContext,
    launches: &[Launch],
    min_seconds: f64,
) -> Result<f64> {
    seconds_per_run(min_seconds, || {
        submit(ctx, launches);
        wait_for_queue(ctx)
    })
}
