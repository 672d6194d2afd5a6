//! `vgg-wgpu bench step`: images/s of whole training steps (forward, loss, backward,
//! SGD), of fine-tuning steps with the features frozen, of inference and of dense
//! evaluation, next to PyTorch's on the CPU.

use serde::Serialize;
use vgg_wgpu::cpu_engine::{CpuModel, Pause};
use vgg_wgpu::gpu::Storage;
use vgg_wgpu::graph::{DensePlan, EvalPlan, Network, ParamSet, TrainPlan, Trainable};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::WeightFile;
use vgg_wgpu::train::init::{random_weights, Init};
use vgg_wgpu::Result;

use super::args::BenchArgs;
use super::cpu_reference::pytorch_images_per_s;
use super::profile;
use super::report::{print_json, Rounded};
use super::step_inputs::StepInputs;
use super::timer::seconds_per_run;

/// One timed pass over a batch.
struct PassTiming {
    pass: &'static str,
    seconds: f64,
    /// FLOPs of the whole batch.
    flops: f64,
    pytorch_images_per_s: Option<f64>,
}

/// A timing as a JSON line.
#[derive(Serialize)]
struct StepRow<'a> {
    config: &'a str,
    width_divisor: usize,
    size: usize,
    batch: usize,
    pass: &'a str,
    seconds: Rounded<6>,
    images_per_s: Rounded<2>,
    gflop_per_s: Rounded<3>,
    pytorch_cpu_images_per_s: Option<Rounded<3>>,
    ratio_to_pytorch: Option<Rounded<3>>,
}

pub fn run(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let spec = args.spec()?;
    let net = Network::new(&spec, 0.5);
    let weights = random_weights(&spec, &Init::Glorot, 0);
    let params = ParamSet::upload(ctx, &spec, &weights, "random")?;
    let train = pollster::block_on(TrainPlan::new(ctx, &net, params, args.batch, 1, 1))?;
    let eval = pollster::block_on(EvalPlan::new(ctx, &net, &train.params, args.batch))?;
    let StepInputs {
        images,
        labels,
        hyper,
    } = StepInputs::new(args);
    let step_seconds = seconds_per_run(args.min_seconds, || {
        pollster::block_on(train.step(ctx, &images, &labels, &hyper, 0, 0)).map(|_| ())
    })?;
    let frozen = time_frozen_step(ctx, args, &net, &StepInputs::new(args))?;
    let eval_seconds = seconds_per_run(args.min_seconds, || {
        pollster::block_on(eval.evaluate(ctx, &images, &labels)).map(|_| ())
    })?;
    let dense = time_dense_evaluation(ctx, args, &net, &train.params)?;
    if args.profile {
        let dispatches = train.launch_count();
        let step = || train.profile(ctx);
        profile::print("one training step", dispatches, step, args.json)?;
    }
    let flops = net.flops_per_image() * args.batch as f64;
    let torch = match args.no_cpu_reference {
        true => None,
        false => pytorch_images_per_s(args)
            .map_err(|why| eprintln!("PyTorch reference unavailable: {why}"))
            .ok(),
    };
    let timings = [
        PassTiming {
            pass: "training step",
            seconds: step_seconds,
            // The backward pass costs twice the forward (data and weight gradients).
            flops: 3.0 * flops,
            pytorch_images_per_s: torch.as_ref().map(|t| t.training),
        },
        frozen,
        PassTiming {
            pass: "inference",
            seconds: eval_seconds,
            flops,
            pytorch_images_per_s: torch.as_ref().map(|t| t.inference),
        },
        dense,
    ];
    timings.iter().try_for_each(|t| print(args, t))
}

/// Dense evaluation alone, with random weights.
pub fn run_dense(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let spec = args.spec()?;
    let net = Network::new(&spec, 0.0);
    let weights = random_weights(&spec, &Init::Glorot, 0);
    if args.cpu_engine {
        return print(args, &time_cpu_engine(args, &net, weights)?);
    }
    let storage = match args.f16_weights {
        true => Storage::F16,
        false => Storage::F32,
    };
    let params = ParamSet::upload_stored(ctx, &spec, &weights, "random", storage)?;
    print(args, &time_dense_evaluation(ctx, args, &net, &params)?)
}

/// A training step that updates only the classifier (`train --freeze features`): the
/// forward pass, then backward and SGD of the FC layers alone.
fn time_frozen_step(
    ctx: &GpuContext,
    args: &BenchArgs,
    net: &Network,
    inputs: &StepInputs,
) -> Result<PassTiming> {
    let spec = &net.spec;
    let frozen = Trainable {
        frozen_layers: spec.conv_layers().len(),
        ..Trainable::ALL
    };
    let net = net.clone().with_trainable(frozen)?;
    let weights = random_weights(spec, &Init::Glorot, 0);
    let params = ParamSet::upload(ctx, spec, &weights, "random")?;
    let plan = pollster::block_on(TrainPlan::new(ctx, &net, params, args.batch, 1, 1))?;
    let seconds = seconds_per_run(args.min_seconds, || {
        let step = plan.step(ctx, &inputs.images, &inputs.labels, &inputs.hyper, 0, 0);
        pollster::block_on(step).map(|_| ())
    })?;
    let trained: f64 = net.ops[net.first_trained_op()..]
        .iter()
        .map(|op| op.flops_per_image())
        .sum();
    Ok(PassTiming {
        pass: "step, frozen features",
        seconds,
        flops: (net.flops_per_image() + 2.0 * trained) * args.batch as f64,
        pytorch_images_per_s: None,
    })
}

/// Dense evaluation of `--dense-size` images; its FLOPs are those of the plan that ran.
fn time_dense_evaluation(
    ctx: &GpuContext,
    args: &BenchArgs,
    net: &Network,
    params: &ParamSet,
) -> Result<PassTiming> {
    let side = args.dense_size.unwrap_or(args.size);
    let dense = pollster::block_on(DensePlan::new(ctx, net, params, args.batch, side, side))?;
    // (batch, 3, side, side)
    let images = vec![0.5f32; args.batch * 3 * side * side];
    let seconds = seconds_per_run(args.min_seconds, || {
        pollster::block_on(dense.run(ctx, &images)).map(|_| ())
    })?;
    if args.profile {
        let pass = || dense.profile(ctx);
        profile::print("one dense pass", dense.launch_count(), pass, args.json)?;
    }
    Ok(PassTiming {
        pass: "dense eval",
        seconds,
        flops: dense.flops_per_image() * args.batch as f64,
        pytorch_images_per_s: None,
    })
}

/// A pause that only measures: the longest stretch of work between two pauses, which
/// in the page is the longest the browser waits for its turn.
struct LongestStretch {
    since: std::time::Instant,
    longest: f64,
}

impl Pause for LongestStretch {
    async fn pause(&mut self) {
        self.longest = self.longest.max(self.since.elapsed().as_secs_f64());
        self.since = std::time::Instant::now();
    }
}

/// Dense evaluation of `--dense-size` images by the CPU engine.
fn time_cpu_engine(args: &BenchArgs, net: &Network, weights: WeightFile) -> Result<PassTiming> {
    let side = args.dense_size.unwrap_or(args.size);
    let model = CpuModel::new(weights, "random", args.f16_weights)?;
    let images = vec![0.5f32; args.batch * 3 * side * side];
    let mut longest = 0f64;
    let seconds = seconds_per_run(args.min_seconds, || {
        let mut pause = LongestStretch {
            since: std::time::Instant::now(),
            longest: 0.0,
        };
        let pass = model.dense(&images, args.batch, side, side, &mut pause);
        let done = pollster::block_on(pass).map(|_| ());
        longest = longest.max(pause.longest);
        done
    })?;
    println!(
        "the CPU engine's longest work between two pauses: {:.0} ms",
        longest * 1e3
    );
    let ops = net.dense_ops(side, side);
    Ok(PassTiming {
        pass: "dense eval, CPU engine",
        seconds,
        flops: ops.iter().map(|op| op.flops_per_image()).sum::<f64>() * args.batch as f64,
        pytorch_images_per_s: None,
    })
}

fn print(args: &BenchArgs, t: &PassTiming) -> Result<()> {
    let images_per_s = args.batch as f64 / t.seconds;
    let gflops = t.flops / t.seconds / 1e9;
    let ratio = t.pytorch_images_per_s.map(|torch| images_per_s / torch);
    if args.json {
        return print_json(&StepRow {
            config: args.config.name(),
            width_divisor: args.width_divisor,
            size: args.size,
            batch: args.batch,
            pass: t.pass,
            seconds: Rounded(t.seconds),
            images_per_s: Rounded(images_per_s),
            gflop_per_s: Rounded(gflops),
            pytorch_cpu_images_per_s: t.pytorch_images_per_s.map(Rounded),
            ratio_to_pytorch: ratio.map(Rounded),
        });
    }
    let reference = match (t.pytorch_images_per_s, ratio) {
        (Some(torch), Some(r)) => {
            format!("  (PyTorch on the CPU: {torch:.1} images/s, ratio {r:.2})")
        }
        _ => String::new(),
    };
    println!(
        "VGG-{} ÷{} @{} batch {}: {:<21} {:8.2} ms  {images_per_s:8.1} images/s  {gflops:6.2} GFLOP/s{reference}",
        args.config,
        args.width_divisor,
        args.size,
        args.batch,
        t.pass,
        t.seconds * 1e3
    );
    Ok(())
}
