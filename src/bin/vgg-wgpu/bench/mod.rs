//! `vgg-wgpu bench`: throughput on this adapter, and of the training data loader. Each
//! target has its own module; they share the arguments, the one timing loop, the JSON
//! writer and the CPU references, and none imports another target.

mod adapter_peak;
mod args;
mod cpu_reference;
mod kernels;
mod loader;
mod peak;
mod profile;
mod replicas;
mod report;
mod step;
mod step_inputs;
mod timer;

pub use args::BenchArgs;
use args::BenchTarget;
use vgg_wgpu::Result;

use crate::AdapterArgs;

pub fn run(adapter: &AdapterArgs, args: &BenchArgs) -> Result<()> {
    // Opened only by the targets that use it: the loader runs on the CPU alone.
    let ctx = || crate::open(adapter);
    match args.target {
        BenchTarget::Kernels => kernels::run(&ctx()?, args),
        BenchTarget::Step => step::run(&ctx()?, args),
        BenchTarget::Dense => step::run_dense(&ctx()?, args),
        BenchTarget::Replicas => replicas::run(&ctx()?, &adapter.choice(), args),
        BenchTarget::Peak => peak::run(&ctx()?, args),
        BenchTarget::Loader => loader::run(args),
    }
}
