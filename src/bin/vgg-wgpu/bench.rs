//! `vgg-wgpu bench kernels`: GFLOP/s of the conv kernels on VGG-16's real layer shapes.

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use vgg_wgpu::gpu::readback::wait_for_queue;
use vgg_wgpu::gpu::{GpuContext, Tensor};
use vgg_wgpu::kernels::conv::{
    conv2d_backward_data, conv2d_backward_weight, conv2d_forward, ConvShape,
};
use vgg_wgpu::kernels::{submit, Launch};
use vgg_wgpu::model::{Config, ModelSpec};
use vgg_wgpu::Result;

#[derive(Clone, Copy, ValueEnum)]
pub enum BenchTarget {
    /// Each distinct conv layer of VGG-16 (config D): forward and backward GFLOP/s.
    Kernels,
}

#[derive(Args)]
pub struct BenchArgs {
    #[arg(value_enum, default_value = "kernels")]
    target: BenchTarget,
    /// Images per batch.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Input size of the network (224 = the paper's; smaller is quicker on a CPU adapter).
    #[arg(long, default_value_t = 224)]
    size: usize,
    /// Keep repeating each measurement until this many seconds have passed.
    #[arg(long, default_value_t = 0.5)]
    min_seconds: f64,
    /// Print one JSON object per measurement instead of a table.
    #[arg(long)]
    json: bool,
}

/// One timed kernel run on one layer.
struct Measurement {
    layer: String,
    pass: &'static str,
    flops: f64,
    seconds: f64,
}

pub fn run(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Kernels => bench_kernels(ctx, args),
    }
}

fn bench_kernels(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let spec = ModelSpec {
        input_size: args.size,
        ..ModelSpec::paper(Config::D)
    };
    spec.validate()?;
    let mut layers = spec.conv_layers();
    layers.dedup();
    if !args.json {
        println!("adapter: {}", ctx.describe());
        println!(
            "VGG-16 conv layers, batch {}, input {}×{}",
            args.batch, args.size, args.size
        );
        println!(
            "{:<28} {:<16} {:>9} {:>10} {:>9}",
            "layer", "pass", "GFLOP", "ms", "GFLOP/s"
        );
    }
    for l in layers {
        let s = ConvShape {
            batch: args.batch,
            in_channels: l.in_channels,
            in_h: l.size,
            in_w: l.size,
            out_channels: l.out_channels,
            kernel: l.kernel,
            pad: l.kernel / 2,
        };
        let name = format!(
            "conv{}-{} {}→{} @{}",
            l.kernel, l.out_channels, l.in_channels, l.out_channels, l.size
        );
        let x = Tensor::zeros(ctx, "x", &s.input())?;
        let w = Tensor::zeros(ctx, "w", &s.weight())?;
        let b = Tensor::zeros(ctx, "b", &[s.out_channels])?;
        let y = Tensor::zeros(ctx, "y", &s.output())?;
        let dy = Tensor::zeros(ctx, "dy", &s.output())?;
        let dx = Tensor::zeros(ctx, "dx", &s.input())?;
        let dw = Tensor::zeros(ctx, "dw", &s.weight())?;
        let db = Tensor::zeros(ctx, "db", &[s.out_channels])?;
        let passes = [
            ("forward", conv2d_forward(ctx, &s, true, &x, &w, &b, &y)?),
            (
                "backward data",
                conv2d_backward_data(ctx, &s, &dy, &w, &dx)?,
            ),
            (
                "backward weight",
                conv2d_backward_weight(ctx, &s, &x, &dy, &dw, &db)?,
            ),
        ];
        for (pass, launches) in passes {
            let m = Measurement {
                layer: name.clone(),
                pass,
                flops: s.flops(),
                seconds: time(ctx, &launches, args.min_seconds)?,
            };
            print(&m, args.json);
        }
    }
    Ok(())
}

/// Seconds per run of `launches`: one warm-up run, then repeats until `min_seconds`.
fn time(ctx: &GpuContext, launches: &[Launch], min_seconds: f64) -> Result<f64> {
    submit(ctx, launches);
    wait_for_queue(ctx)?;
    let start = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || start.elapsed() < Duration::from_secs_f64(min_seconds) {
        submit(ctx, launches);
        wait_for_queue(ctx)?;
        runs += 1;
    }
    Ok(start.elapsed().as_secs_f64() / runs as f64)
}

fn print(m: &Measurement, json: bool) {
    let gflops = m.flops / m.seconds / 1e9;
    if json {
        println!(
            "{{\"layer\":\"{}\",\"pass\":\"{}\",\"gflop\":{:.4},\"seconds\":{:.6},\"gflop_per_s\":{:.3}}}",
            m.layer,
            m.pass,
            m.flops / 1e9,
            m.seconds,
            gflops
        );
    } else {
        println!(
            "{:<28} {:<16} {:>9.3} {:>10.2} {:>9.2}",
            m.layer,
            m.pass,
            m.flops / 1e9,
            m.seconds * 1e3,
            gflops
        );
    }
}
