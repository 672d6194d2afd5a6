//! The command-line interface. The library does the work; this file parses arguments,
//! blocks on the library's futures (pollster) and turns errors into exit codes.

mod bench;
mod classify;
mod eval;
mod features;
mod info;
mod plot;
mod test_options;
mod train;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vgg_wgpu::gpu::AdapterChoice;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::terminal::printable;

#[derive(Parser)]
#[command(
    name = "vgg-wgpu",
    version,
    about = "VGG (Simonyan & Zisserman, ICLR 2015) on a portable WebGPU compute engine",
    long_about = "VGG training and dense multi-scale evaluation whose every layer is a WGSL \
                  compute shader, run through wgpu on Vulkan, Metal, DX12 or the browser's WebGPU."
)]
struct Cli {
    #[command(flatten)]
    adapter: AdapterArgs,
    #[command(subcommand)]
    command: Command,
}

/// Which GPU adapter to use (see `vgg-wgpu info` for the list).
#[derive(Args)]
struct AdapterArgs {
    /// Graphics backend: vulkan, metal, dx12 or gl (default: the best available).
    #[arg(long, global = true, env = "VGG_WGPU_BACKEND")]
    backend: Option<String>,
    /// Use the first adapter whose name contains this text (case-insensitive).
    #[arg(long, global = true, env = "VGG_WGPU_ADAPTER")]
    adapter: Option<String>,
}

impl AdapterArgs {
    fn choice(&self) -> AdapterChoice {
        AdapterChoice {
            backend: self.backend.clone(),
            name_contains: self.adapter.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter, the one chosen, its limits and optional features.
    Info,
    /// Train a VGG (with no arguments: a small one on the built-in data set).
    Train(train::TrainArgs),
    /// Measure kernel throughput on this adapter.
    Bench(bench::BenchArgs),
    /// Top-1/top-5 error under the paper's testing protocols (dense, multi-crop,
    /// multi-scale, ensembles).
    Eval(eval::EvalArgs),
    /// The top classes of image files, optionally with a class score heat map.
    Classify(classify::ClassifyArgs),
    /// Penultimate-layer features of a data set's images, written as safetensors.
    Features(features::FeaturesArgs),
    /// Training curves of one run or several side by side, as an SVG picture (no GPU).
    Plot(plot::PlotArgs),
}

fn main() -> ExitCode {
    // Mesa's drivers print "XDG_RUNTIME_DIR is invalid or not set" on headless machines;
    // any writable directory silences it. Set before any thread or adapter exists.
    #[cfg(target_os = "linux")]
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let cli = Cli::parse();
    // Training alone may end other than in success or an error: interrupted.
    let success = |()| ExitCode::SUCCESS;
    let result = match &cli.command {
        Command::Info => info::run(&cli.adapter.choice()).map(success),
        Command::Train(args) => match &args.devices {
            Some(which) => open_devices(&cli.adapter, which).and_then(|d| train::run(&d, args)),
            None => open(&cli.adapter).and_then(|ctx| train::run(&[ctx], args)),
        },
        Command::Bench(args) => bench::run(&cli.adapter, args).map(success),
        Command::Eval(args) => open(&cli.adapter)
            .and_then(|ctx| eval::run(&ctx, args))
            .map(success),
        Command::Classify(args) => open(&cli.adapter)
            .and_then(|ctx| classify::run(&ctx, args))
            .map(success),
        Command::Features(args) => open(&cli.adapter)
            .and_then(|ctx| features::run(&ctx, args))
            .map(success),
        Command::Plot(args) => plot::run(args).map(success),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", error_report(&e));
            ExitCode::FAILURE
        }
    }
}

/// `error: …` then one `  caused by: …` line per source whose text the lines above do
/// not already hold (many messages quote their source), control characters escaped.
fn error_report(e: &vgg_wgpu::Error) -> String {
    let mut report = format!("error: {}", e.for_terminal());
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = printable(&cause.to_string()).into_owned();
        if !report.contains(&text) {
            report.push_str(&format!("\n  caused by: {text}"));
        }
        source = cause.source();
    }
    report
}

fn open_devices(adapter: &AdapterArgs, which: &str) -> vgg_wgpu::Result<Vec<GpuContext>> {
    let devices = pollster::block_on(GpuContext::open_devices(&adapter.choice(), which))?;
    for (i, ctx) in devices.iter().enumerate() {
        eprintln!("device {i}: {}", ctx.describe());
    }
    Ok(devices)
}

fn open(adapter: &AdapterArgs) -> vgg_wgpu::Result<GpuContext> {
    let ctx = pollster::block_on(GpuContext::new(&adapter.choice()))?;
    eprintln!("adapter: {}", ctx.describe());
    Ok(ctx)
}
