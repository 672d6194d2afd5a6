//! `vgg-wgpu bench`: throughput on this adapter. Each target has its own module; they
//! share the arguments, the one timing loop, the JSON writer and the CPU references,
//! and none imports another target.

mod adapter_peak;
mod args;
mod cpu_reference;
mod kernels;
mod peak;
mod profile;
mod replicas;
mod report;
mod step;
mod step_inputs;
mod timer;

pub use args::BenchArgs;
use args::BenchTarget;
use vgg_wgpu::gpu::AdapterChoice;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::Result;

pub fn run(ctx: &GpuContext, choice: &AdapterChoice, args: &BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Kernels => kernels::run(ctx, args),
        BenchTarget::Step => step::run(ctx, args),
        BenchTarget::Dense => step::run_dense(ctx, args),
        BenchTarget::Replicas => replicas::run(ctx, choice, args),
        BenchTarget::Peak => peak::run(ctx, args),
    }
}
