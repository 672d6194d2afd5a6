//! `vgg-wgpu bench kernels`: GFLOP/s of the conv kernels on VGG-16's real layer shapes,
//! next to numpy's SGEMM on the same machine as a CPU reference (run first, separately)
//! and to the adapter's own multiply-add peak (`bench peak`, run first too).

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use vgg_wgpu::gpu::readback::wait_for_queue;
use vgg_wgpu::gpu::{AdapterChoice, GpuContext, Tensor};
use vgg_wgpu::graph::{DensePlan, EvalPlan, Network, ParamSet, StepProfile, TrainPlan};
use vgg_wgpu::kernels::conv::{conv2d_backward_data, conv2d_backward_weight, conv2d_forward};
use vgg_wgpu::kernels::{submit, Launch, ProfileClock};
use vgg_wgpu::model::{Config, ModelSpec};
use vgg_wgpu::shape::{ConvShape, SgdHyper};
use vgg_wgpu::train::init::{random_weights, Init};
use vgg_wgpu::Result;

#[derive(Clone, Copy, ValueEnum)]
pub enum BenchTarget {
    /// Each distinct conv layer of the network (VGG-16 by default): forward and
    /// backward GFLOP/s, as a share of numpy's SGEMM and of the adapter's peak.
    Kernels,
    /// Whole training steps and inference passes of the network: images/s.
    Step,
    /// Data-parallel training with 1 and with --replicas devices on the chosen adapter:
    /// images/s, bytes exchanged and exchange time per step, scaling efficiency.
    Replicas,
    /// The adapter's own ceilings: fp32 multiply-add GFLOP/s on values in registers,
    /// storage loads per second, and numpy's SGEMM on the CPU for scale.
    Peak,
}

#[derive(Args)]
pub struct BenchArgs {
    #[arg(value_enum, default_value = "kernels")]
    target: BenchTarget,
    /// VGG configuration (D = VGG-16).
    #[arg(long, default_value = "D")]
    pub config: Config,
    /// Divide every layer's width by this.
    #[arg(long, default_value_t = 1)]
    pub width_divisor: usize,
    /// Classes of the network's last layer (for `step`).
    #[arg(long, default_value_t = 1000)]
    pub classes: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Input size of the network (224 = the paper's; smaller is quicker on a CPU adapter).
    #[arg(long, default_value_t = 224)]
    pub size: usize,
    /// Keep repeating each measurement until this many seconds have passed.
    #[arg(long, default_value_t = 0.5)]
    pub min_seconds: f64,
    /// Only this pass (forward, data or weight); all three by default.
    #[arg(long)]
    pass: Option<String>,
    /// Skip the CPU reference (numpy's SGEMM on each layer's implicit GEMM).
    #[arg(long)]
    pub no_cpu_reference: bool,
    /// Print one JSON object per measurement instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Replicas to compare with one (for `replicas`).
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// With `step`: the image side for dense (fully convolutional) evaluation; default
    /// the input size.
    #[arg(long)]
    dense_size: Option<usize>,
    /// With `step`: also time each op of one training step (GPU timestamps where the
    /// adapter has them, otherwise each dispatch alone by wall clock).
    #[arg(long)]
    profile: bool,
}

/// One timed kernel run on one layer.
struct Measurement {
    layer: String,
    pass: &'static str,
    flops: f64,
    seconds: f64,
    /// GFLOP/s of the CPU reference on this layer's implicit GEMM, when available.
    cpu_gflops: Option<f64>,
    /// The adapter's multiply-add peak in GFLOP/s (`bench peak`), when measured.
    peak_gflops: Option<f64>,
}

pub fn run(ctx: &GpuContext, choice: &AdapterChoice, args: &BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Kernels => bench_kernels(ctx, args),
        BenchTarget::Step => bench_step(ctx, args),
        BenchTarget::Replicas => super::bench_replicas::run(ctx, choice, args),
        BenchTarget::Peak => super::bench_peak::run(ctx, args),
    }
}

pub fn bench_spec(args: &BenchArgs) -> Result<ModelSpec> {
    let spec = ModelSpec {
        config: args.config,
        classes: args.classes,
        input_size: args.size,
        width_divisor: args.width_divisor,
    };
    spec.validate()?;
    Ok(spec)
}

/// A timed training step's batch and hyper-parameters: constant images, labels
/// cycling through the classes, and a zero learning rate so the weights stay put.
pub struct StepInputs {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
    pub hyper: SgdHyper,
}

impl StepInputs {
    pub fn new(args: &BenchArgs) -> StepInputs {
        StepInputs {
            images: vec![0.5f32; args.batch * 3 * args.size * args.size],
            labels: (0..args.batch).map(|i| (i % args.classes) as u32).collect(),
            hyper: SgdHyper {
                lr: 0.0,
                momentum: 0.9,
                weight_decay: 0.0,
                grad_scale: 1.0,
            },
        }
    }
}

/// Images/s of a training step (forward, loss, backward, SGD) and of inference.
fn bench_step(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let spec = bench_spec(args)?;
    let net = Network::new(&spec, 0.5);
    let weights = random_weights(&spec, &Init::Glorot, 0);
    let params = ParamSet::upload(ctx, &spec, &weights, "random")?;
    let train = pollster::block_on(TrainPlan::new(ctx, &net, params, args.batch, 1, 1))?;
    let eval = EvalPlan::new(ctx, &net, &train.params, args.batch)?;
    let StepInputs {
        images,
        labels,
        hyper,
    } = StepInputs::new(args);
    let step_seconds = time_repeatedly(args.min_seconds, || {
        pollster::block_on(train.step(ctx, &images, &labels, &hyper, 0, 0)).map(|_| ())
    })?;
    let eval_seconds = time_repeatedly(args.min_seconds, || {
        pollster::block_on(eval.evaluate(ctx, &images, &labels)).map(|_| ())
    })?;
    let dense_size = args.dense_size.unwrap_or(args.size);
    let dense = DensePlan::new(ctx, &net, &train.params, args.batch, dense_size, dense_size)?;
    let dense_images = vec![0.5f32; args.batch * 3 * dense_size * dense_size];
    let dense_seconds = time_repeatedly(args.min_seconds, || {
        pollster::block_on(dense.run(ctx, &dense_images)).map(|_| ())
    })?;
    let dense_flops = dense.flops_per_image() * args.batch as f64;
    if args.profile {
        print_profile(ctx, &train, args.json)?;
    }
    let flops = net.flops_per_image() * args.batch as f64;
    let torch = match args.no_cpu_reference {
        true => None,
        false => pytorch_reference(args)
            .map_err(|why| eprintln!("PyTorch reference unavailable: {why}"))
            .ok(),
    };
    let passes = [
        (
            "training step",
            step_seconds,
            3.0 * flops,
            torch.map(|t| t.0),
        ),
        ("inference", eval_seconds, flops, torch.map(|t| t.1)),
        ("dense eval", dense_seconds, dense_flops, None),
    ];
    for (pass, seconds, flops, torch_images_per_s) in passes {
        let images_per_s = args.batch as f64 / seconds;
        let ratio = torch_images_per_s.map(|t| images_per_s / t);
        if args.json {
            println!(
                "{{\"config\":\"{}\",\"width_divisor\":{},\"size\":{},\"batch\":{},\"pass\":\"{pass}\",\"seconds\":{seconds:.6},\"images_per_s\":{images_per_s:.2},\"gflop_per_s\":{:.3},\"pytorch_cpu_images_per_s\":{},\"ratio_to_pytorch\":{}}}",
                args.config,
                args.width_divisor,
                args.size,
                args.batch,
                flops / seconds / 1e9,
                json_number(torch_images_per_s),
                json_number(ratio)
            );
        } else {
            let reference = match (torch_images_per_s, ratio) {
                (Some(t), Some(r)) => {
                    format!("  (PyTorch on the CPU: {t:.1} images/s, ratio {r:.2})")
                }
                _ => String::new(),
            };
            println!(
                "VGG-{} ÷{} @{} batch {}: {pass:<14} {:8.2} ms  {images_per_s:8.1} images/s  {:6.2} GFLOP/s{reference}",
                args.config,
                args.width_divisor,
                args.size,
                args.batch,
                seconds * 1e3,
                flops / seconds / 1e9
            );
        }
    }
    Ok(())
}

/// Each op's and each kernel's share of one training step, measured over a few steps
/// (the median of each).
fn print_profile(ctx: &GpuContext, train: &TrainPlan, json: bool) -> Result<()> {
    const RUNS: usize = 5;
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(train.profile(ctx)?);
    }
    let clock = runs[0].clock;
    let median = |pick: fn(&StepProfile) -> &Vec<(String, f64)>| -> Vec<(String, f64)> {
        (0..pick(&runs[0]).len())
            .map(|i| {
                let mut t: Vec<f64> = runs.iter().map(|r| pick(r)[i].1).collect();
                t.sort_by(f64::total_cmp);
                (pick(&runs[0])[i].0.clone(), t[RUNS / 2])
            })
            .collect()
    };
    let clock_name = match clock {
        ProfileClock::Timestamps => "GPU timestamps",
        ProfileClock::WallClock => "wall clock per dispatch (no timestamp queries)",
    };
    for (kind, rows) in [
        ("op", median(|p| &p.per_op)),
        ("kernel", median(|p| &p.per_kernel)),
    ] {
        let total: f64 = rows.iter().map(|(_, t)| t).sum();
        if !json {
            println!(
                "one training step by {kind} ({} dispatches; {clock_name}; median of {RUNS}):",
                train.launch_count()
            );
        }
        for (name, seconds) in &rows {
            if json {
                println!(
                    "{{\"profile_{kind}\":\"{name}\",\"seconds\":{seconds:.6},\"share\":{:.4},\"clock\":\"{clock:?}\"}}",
                    seconds / total
                );
            } else {
                println!(
                    "  {name:<34} {:8.3} ms {:5.1}%",
                    seconds * 1e3,
                    100.0 * seconds / total
                );
            }
        }
        if !json {
            println!("  {:<34} {:8.3} ms", "sum", total * 1e3);
        }
    }
    Ok(())
}

fn json_number(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}"))
        .unwrap_or_else(|| "null".into())
}

/// Training-step and inference images/s of the same network in PyTorch on the CPU
/// (`benches/pytorch_step.py`, run with `python3 -c`).
fn pytorch_reference(args: &BenchArgs) -> std::result::Result<(f64, f64), String> {
    const SCRIPT: &str = include_str!("../../../benches/pytorch_step.py");
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .args(["--config", args.config.name()])
        .args(["--width-divisor", &args.width_divisor.to_string()])
        .args(["--size", &args.size.to_string()])
        .args(["--batch", &args.batch.to_string()])
        .args(["--classes", &args.classes.to_string()])
        .args(["--min-seconds", &args.min_seconds.max(1.0).to_string()])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "python3 with torch failed: {}",
            stderr.lines().last().unwrap_or("").trim()
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("unexpected output from python3: {e}"))?;
    let field = |name: &str| {
        json[name]
            .as_f64()
            .ok_or_else(|| format!("no {name} in the PyTorch output"))
    };
    Ok((
        field("train_images_per_s")?,
        field("inference_images_per_s")?,
    ))
}

/// Seconds per call of `f`: one warm-up call, then repeats until `min_seconds`.
pub fn time_repeatedly(min_seconds: f64, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let start = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || start.elapsed() < Duration::from_secs_f64(min_seconds) {
        f()?;
        runs += 1;
    }
    Ok(start.elapsed().as_secs_f64() / runs as f64)
}

fn bench_kernels(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let spec = bench_spec(args)?;
    let mut layers = spec.conv_layers();
    layers.dedup();
    let shapes: Vec<(String, ConvShape)> = layers
        .iter()
        .map(|l| {
            let name = format!(
                "conv{}-{} {}→{} @{}",
                l.kernel, l.out_channels, l.in_channels, l.out_channels, l.size
            );
            let shape = ConvShape {
                batch: args.batch,
                in_channels: l.in_channels,
                in_h: l.size,
                in_w: l.size,
                out_channels: l.out_channels,
                kernel: l.kernel,
                pad: l.kernel / 2,
            };
            (name, shape)
        })
        .collect();

    // The CPU reference runs first, on its own, so that neither disturbs the other.
    let cpu_gflops = if args.no_cpu_reference {
        None
    } else {
        let gemms: Vec<[usize; 3]> = shapes
            .iter()
            .map(|(_, s)| cpu_reference::implicit_gemm(s))
            .collect();
        match cpu_reference::numpy_sgemm_gflops(&gemms, args.min_seconds) {
            Ok(gflops) => Some(gflops),
            Err(why) => {
                eprintln!("CPU reference unavailable: {why}");
                None
            }
        }
    };

    let peak = super::bench_peak::fma_gflops(ctx, args.min_seconds)?;
    if !args.json {
        println!("adapter: {}", ctx.describe());
        println!("multiply-add peak of the adapter (bench peak): {peak:.2} GFLOP/s");
        println!(
            "VGG-16 conv layers, batch {}, input {}×{}",
            args.batch, args.size, args.size
        );
        println!(
            "{:<28} {:<16} {:>9} {:>10} {:>9} {:>9} {:>7}",
            "layer", "pass", "GFLOP", "ms", "GFLOP/s", "÷ numpy", "÷ peak"
        );
    }
    for (i, (name, s)) in shapes.iter().enumerate() {
        let x = Tensor::zeros(ctx, "x", &s.input())?;
        let w = Tensor::zeros(ctx, "w", &s.weight())?;
        let b = Tensor::zeros(ctx, "b", &[s.out_channels])?;
        let y = Tensor::zeros(ctx, "y", &s.output())?;
        let dy = Tensor::zeros(ctx, "dy", &s.output())?;
        let dx = Tensor::zeros(ctx, "dx", &s.input())?;
        let dw = Tensor::zeros(ctx, "dw", &s.weight())?;
        let db = Tensor::zeros(ctx, "db", &[s.out_channels])?;
        let cpu = cpu_gflops.as_ref().map(|g| g[i]);
        if let Some(gflops) = cpu {
            let m = Measurement {
                layer: name.clone(),
                pass: "numpy SGEMM (CPU)",
                flops: s.flops(),
                seconds: s.flops() / (gflops * 1e9),
                cpu_gflops: None,
                peak_gflops: None,
            };
            print(&m, args.json);
        }
        let passes = [
            ("forward", conv2d_forward(ctx, s, true, &x, &w, &b, &y)?),
            ("backward data", conv2d_backward_data(ctx, s, &dy, &w, &dx)?),
            (
                "backward weight",
                conv2d_backward_weight(ctx, s, &x, &dy, &dw, &db)?,
            ),
        ];
        for (pass, launches) in passes {
            if args.pass.as_deref().is_some_and(|p| !pass.contains(p)) {
                continue;
            }
            let m = Measurement {
                layer: name.clone(),
                pass,
                flops: s.flops(),
                seconds: time(ctx, &launches, args.min_seconds)?,
                cpu_gflops: cpu,
                peak_gflops: Some(peak),
            };
            print(&m, args.json);
        }
    }
    Ok(())
}

/// Seconds per run of `launches`: one warm-up run, then repeats until `min_seconds`.
pub fn time(ctx: &GpuContext, launches: &[Launch], min_seconds: f64) -> Result<f64> {
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
    let ratio = m.cpu_gflops.map(|cpu| gflops / cpu);
    let of_peak = m.peak_gflops.map(|peak| gflops / peak);
    if json {
        println!(
            "{{\"layer\":\"{}\",\"pass\":\"{}\",\"gflop\":{:.4},\"seconds\":{:.6},\"gflop_per_s\":{:.3},\"ratio_to_numpy\":{},\"ratio_to_adapter_peak\":{}}}",
            m.layer,
            m.pass,
            m.flops / 1e9,
            m.seconds,
            gflops,
            json_number(ratio),
            json_number(of_peak)
        );
    } else {
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
    }
}

/// numpy's matmul (OpenBLAS or whatever BLAS it was built with) as the CPU yardstick: a
/// plain-Rust SGEMM would understate what the CPU can do.
pub mod cpu_reference {
    use std::process::Command;

    use vgg_wgpu::shape::ConvShape;

    /// Times an M×K by K×N float32 matmul per shape, M, N, K being the layer's implicit
    /// GEMM (same FLOP count as the convolution).
    const SCRIPT: &str = r#"
import sys, time
import numpy as np
min_seconds = float(sys.argv[1])
rng = np.random.default_rng(0)
for spec in sys.argv[2:]:
    m, n, k = map(int, spec.split("x"))
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    for _ in range(3):  # warm-up: BLAS threads, page faults
        a @ b
    runs, start = 0, time.perf_counter()
    while runs == 0 or time.perf_counter() - start < min_seconds:
        a @ b
        runs += 1
    print((time.perf_counter() - start) / runs, flush=True)
"#;

    /// The layer's implicit GEMM: M = output channels, N = batch·OH·OW (output
    /// positions), K = input channels·k² (one filter).
    pub fn implicit_gemm(s: &ConvShape) -> [usize; 3] {
        [
            s.out_channels,
            s.batch * s.out_h() * s.out_w(),
            s.in_channels * s.kernel * s.kernel,
        ]
    }

    /// GFLOP/s of numpy's SGEMM on each [M, N, K], via `python3 -c`; an error says why
    /// it could not run (no python3, no numpy).
    pub fn numpy_sgemm_gflops(gemms: &[[usize; 3]], min_seconds: f64) -> Result<Vec<f64>, String> {
        let specs = gemms.iter().map(|[m, n, k]| format!("{m}x{n}x{k}"));
        let output = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(min_seconds.to_string())
            .args(specs)
            .output()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("").trim().to_string();
            return Err(format!("python3 with numpy failed: {last}"));
        }
        let seconds: Vec<f64> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("unexpected output from python3: {e}"))?;
        if seconds.len() != gemms.len() {
            return Err("python3 timed fewer shapes than asked".to_string());
        }
        Ok(gemms
            .iter()
            .zip(seconds)
            .map(|([m, n, k], secs)| 2.0 * (m * n * k) as f64 / secs / 1e9)
            .collect())
    }
}
