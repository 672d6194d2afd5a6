//! `vgg-wgpu bench kernels`: GFLOP/s of the conv kernels on the network's real layer
//! shapes, next to numpy's SGEMM on the same machine as a CPU reference (run first,
//! separately) and to the adapter's own multiply-add peak (measured first too).

use serde::Serialize;
use vgg_wgpu::error::Error;
use vgg_wgpu::gpu::Tensor;
use vgg_wgpu::graph::{Network, Op};
use vgg_wgpu::kernels::conv::{
    conv2d_backward_data, conv2d_backward_weight, conv2d_forward, ConvUse,
};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::kernels::Launch;
use vgg_wgpu::shape::ConvShape;
use vgg_wgpu::Result;

use super::adapter_peak::fma_gflops;
use super::args::{BenchArgs, Pass};
use super::cpu_reference::{implicit_gemm, numpy_sgemm_gflops};
use super::report::{print_json, Rounded};
use super::timer::seconds_per_submission;

/// One timed run on one layer.
struct Measurement<'a> {
    layer: &'a str,
    pass: &'static str,
    flops: f64,
    seconds: f64,
    /// GFLOP/s of the CPU reference on this layer's implicit GEMM, when available.
    cpu_gflops: Option<f64>,
    /// The adapter's multiply-add peak in GFLOP/s, when it is the yardstick.
    peak_gflops: Option<f64>,
}

/// A measurement as a JSON line.
#[derive(Serialize)]
struct KernelRow<'a> {
    layer: &'a str,
    pass: &'a str,
    gflop: Rounded<4>,
    seconds: Rounded<6>,
    gflop_per_s: Rounded<3>,
    ratio_to_numpy: Option<Rounded<3>>,
    ratio_to_adapter_peak: Option<Rounded<3>>,
}

pub fn run(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let layers = layers_asked_for(args)?;
    // The CPU reference runs first, on its own, so that neither disturbs the other.
    let cpu_gflops = match args.no_cpu_reference {
        true => None,
        false => {
            let gemms: Vec<[usize; 3]> = layers.iter().map(|(_, s)| implicit_gemm(s)).collect();
            numpy_sgemm_gflops(&gemms, args.min_seconds)
                .map_err(|why| eprintln!("CPU reference unavailable: {why}"))
                .ok()
        }
    };
    let peak = fma_gflops(ctx, args.min_seconds)?;
    if !args.json {
        println!("adapter: {}", ctx.describe());
        println!("multiply-add peak of the adapter (bench peak): {peak:.2} GFLOP/s");
        println!(
            "{} conv layers, batch {}, input {}×{}",
            args.network_name(),
            args.batch,
            args.size,
            args.size
        );
        println!(
            "{:<28} {:<16} {:>9} {:>10} {:>9} {:>9} {:>7}",
            "layer", "pass", "GFLOP", "ms", "GFLOP/s", "÷ numpy", "÷ peak"
        );
    }
    for (i, (name, shape)) in layers.iter().enumerate() {
        let cpu = cpu_gflops.as_ref().map(|g| g[i]);
        if let Some(gflops) = cpu {
            print(
                &Measurement {
                    layer: name,
                    pass: "numpy SGEMM (CPU)",
                    flops: shape.flops(),
                    seconds: shape.flops() / (gflops * 1e9),
                    cpu_gflops: None,
                    peak_gflops: None,
                },
                args.json,
            )?;
        }
        let buffers = LayerBuffers::new(ctx, shape)?;
        for pass in Pass::ALL {
            let chosen = match args.pass {
                Some(only) => only == pass,
                // Inference differs from the forward pass only where Winograd runs.
                None => pass != Pass::Inference || ctx.settings.conv_winograd,
            };
            if !chosen {
                continue;
            }
            let launches = buffers.launches(ctx, shape, pass)?;
            print(
                &Measurement {
                    layer: name,
                    pass: pass.label(),
                    flops: shape.flops(),
                    seconds: seconds_per_submission(ctx, &launches, args.min_seconds)?,
                    cpu_gflops: cpu,
                    peak_gflops: Some(peak),
                },
                args.json,
            )?;
        }
    }
    Ok(())
}

/// The network's distinct conv layers, or those whose name contains `--layer`; a
/// filter that matches none is an error listing them.
fn layers_asked_for(args: &BenchArgs) -> Result<Vec<(String, ConvShape)>> {
    let mut layers = distinct_conv_layers(&Network::new(&args.spec()?, 0.5), args.batch);
    if let Some(only) = &args.layer {
        let names: Vec<String> = layers.iter().map(|(name, _)| name.clone()).collect();
        layers.retain(|(name, _)| name.contains(only.as_str()));
        if layers.is_empty() {
            return Err(Error::InvalidArgument {
                op: "--layer",
                message: format!(
                    "no conv layer's name contains '{only}'; the layers are: {}",
                    names.join(", ")
                ),
            });
        }
    }
    Ok(layers)
}

/// The conv layers the training plan runs, each named once ("conv3-64 3→64 @224"):
/// consecutive layers of the same shape are timed once.
fn distinct_conv_layers(net: &Network, batch: usize) -> Vec<(String, ConvShape)> {
    let mut shapes: Vec<ConvShape> = net
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Conv(conv) => Some(conv.shape(batch)),
            Op::Lrn(_) | Op::MaxPool(_) | Op::Linear(_) | Op::Dropout(_) => None,
        })
        .collect();
    shapes.dedup();
    shapes
        .into_iter()
        .map(|s| {
            let name = format!(
                "conv{}-{} {}→{} @{}",
                s.kernel, s.out_channels, s.in_channels, s.out_channels, s.in_h
            );
            (name, s)
        })
        .collect()
}

/// Every tensor a layer's three passes read and write, zero-filled: the kernels' speed
/// does not depend on the values.
struct LayerBuffers {
    /// (N, C, H, W)
    x: Tensor,
    /// (O, C, K, K)
    w: Tensor,
    /// (O)
    b: Tensor,
    /// (N, O, OH, OW)
    y: Tensor,
    /// (N, O, OH, OW)
    dy: Tensor,
    /// (N, C, H, W)
    dx: Tensor,
    /// (O, C, K, K)
    dw: Tensor,
    /// (O)
    db: Tensor,
}

impl LayerBuffers {
    fn new(ctx: &GpuContext, s: &ConvShape) -> Result<LayerBuffers> {
        Ok(LayerBuffers {
            x: Tensor::zeros(ctx, "x", &s.input())?,
            w: Tensor::zeros(ctx, "w", &s.weight())?,
            b: Tensor::zeros(ctx, "b", &[s.out_channels])?,
            y: Tensor::zeros(ctx, "y", &s.output())?,
            dy: Tensor::zeros(ctx, "dy", &s.output())?,
            dx: Tensor::zeros(ctx, "dx", &s.input())?,
            dw: Tensor::zeros(ctx, "dw", &s.weight())?,
            db: Tensor::zeros(ctx, "db", &[s.out_channels])?,
        })
    }

    fn launches(&self, ctx: &GpuContext, s: &ConvShape, pass: Pass) -> Result<Vec<Launch>> {
        let b = self;
        match pass {
            Pass::Forward => {
                conv2d_forward(ctx, s, ConvUse::Training, true, &b.x, &b.w, &b.b, &b.y)
            }
            Pass::Inference => {
                conv2d_forward(ctx, s, ConvUse::Inference, true, &b.x, &b.w, &b.b, &b.y)
            }
            Pass::Data => conv2d_backward_data(ctx, s, &b.dy, &b.w, &b.dx),
            Pass::Weight => conv2d_backward_weight(ctx, s, &b.x, &b.dy, &b.dw, &b.db),
        }
    }
}

fn print(m: &Measurement, json: bool) -> Result<()> {
    let gflops = m.flops / m.seconds / 1e9;
    let ratio = m.cpu_gflops.map(|cpu| gflops / cpu);
    let of_peak = m.peak_gflops.map(|peak| gflops / peak);
    if json {
        return print_json(&KernelRow {
            layer: m.layer,
            pass: m.pass,
            gflop: Rounded(m.flops / 1e9),
            seconds: Rounded(m.seconds),
            gflop_per_s: Rounded(gflops),
            ratio_to_numpy: ratio.map(Rounded),
            ratio_to_adapter_peak: of_peak.map(Rounded),
        });
    }
    let ratio = ratio.map_or(String::new(), |r| format!("{r:.3}"));
    let of_peak = of_peak.map_or(String::new(), |r| format!("{r:.3}"));
    println!(
        "{:<28} {:<16} {:>9.3} {:>10.2} {:>9.2} {:>9} {:>7}",
        m.layer,
        m.pass,
        m.flops / 1e9,
        m.seconds * 1e3,
        gflops,
        ratio,
        of_peak
    );
    Ok(())
}
