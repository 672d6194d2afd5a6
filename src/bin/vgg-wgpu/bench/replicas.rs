//! `vgg-wgpu bench replicas`: data-parallel training with 1 and with N replicas on
//! devices of the chosen adapter — images/s, the bytes each step exchanges, the time
//! the exchange takes, and the scaling efficiency (images/s with N ÷ N × with 1).

use serde::Serialize;
use vgg_wgpu::gpu::context::list_adapters;
use vgg_wgpu::gpu::AdapterChoice;
use vgg_wgpu::graph::data_parallel::DEFAULT_BUCKET_BYTES;
use vgg_wgpu::graph::{DataParallel, ExchangeStats, Network, SingleProcess};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::WeightFile;
use vgg_wgpu::train::init::{random_weights, Init};
use vgg_wgpu::{Error, Result};

use super::args::BenchArgs;
use super::report::{print_json, Rounded};
use super::step_inputs::StepInputs;
use super::timer::seconds_per_run;

/// What one configuration measured per step.
struct Scaling {
    replicas: usize,
    seconds: f64,
    exchange: ExchangeStats,
}

/// A configuration as a JSON line.
#[derive(Serialize)]
struct ReplicasRow<'a> {
    config: &'a str,
    width_divisor: usize,
    size: usize,
    batch: usize,
    replicas: usize,
    seconds: Rounded<6>,
    images_per_s: Rounded<2>,
    exchange_bytes_per_step: u64,
    exchange_seconds_per_step: Rounded<6>,
    scaling_efficiency: Rounded<3>,
}

pub fn run(ctx: &GpuContext, choice: &AdapterChoice, args: &BenchArgs) -> Result<()> {
    let n = args.replicas;
    if n < 2 || !args.batch.is_multiple_of(n) {
        return Err(Error::InvalidArgument {
            op: "bench replicas",
            message: format!(
                "--replicas {n} with --batch {}: need at least 2 replicas and a batch that splits evenly over them",
                args.batch
            ),
        });
    }
    // Every replica opens its own device on the chosen adapter.
    let index = pollster::block_on(list_adapters(choice.backends()?))
        .iter()
        .position(|a| a.get_info() == ctx.adapter_info)
        .unwrap_or(0);
    let spec = args.spec()?;
    let workload = Workload {
        net: Network::new(&spec, 0.5),
        weights: random_weights(&spec, &Init::Glorot, 0),
        inputs: StepInputs::new(args),
    };
    let one = measure(choice, args, &workload, index, 1)?;
    let many = measure(choice, args, &workload, index, n)?;
    for r in [&one, &many] {
        print(args, r, one.seconds)?;
    }
    Ok(())
}

/// The network, its weights and the batch, the same for every number of replicas.
struct Workload {
    net: Network,
    weights: WeightFile,
    inputs: StepInputs,
}

/// Times data-parallel steps of the whole batch split over `replicas` devices opened on
/// adapter `index`.
fn measure(
    choice: &AdapterChoice,
    args: &BenchArgs,
    workload: &Workload,
    index: usize,
    replicas: usize,
) -> Result<Scaling> {
    let StepInputs {
        images,
        labels,
        hyper,
    } = &workload.inputs;
    let list = vec![index.to_string(); replicas].join(",");
    let devices = pollster::block_on(GpuContext::open_devices(choice, &list))?;
    let parallel = pollster::block_on(DataParallel::new(
        &devices,
        &workload.net,
        &workload.weights,
        args.batch / replicas,
        1,
        1,
        DEFAULT_BUCKET_BYTES,
    ))?;
    let mut exchange = ExchangeStats::default();
    let mut steps = 0u32;
    let seconds = seconds_per_run(args.min_seconds, || {
        let step = parallel.step(images, labels, hyper, 0, 0, 0, &SingleProcess);
        let (_, e) = pollster::block_on(step)?;
        exchange.bytes += e.bytes;
        exchange.seconds += e.seconds;
        steps += 1;
        Ok(())
    })?;
    // Averaged over every step, the warm-up included.
    exchange.bytes /= steps as u64;
    exchange.seconds /= steps as f64;
    Ok(Scaling {
        replicas,
        seconds,
        exchange,
    })
}

/// One configuration's row; `one_replica_seconds` is the baseline of the efficiency.
fn print(args: &BenchArgs, r: &Scaling, one_replica_seconds: f64) -> Result<()> {
    let images_per_s = args.batch as f64 / r.seconds;
    let efficiency = one_replica_seconds / r.seconds / r.replicas as f64;
    if args.json {
        return print_json(&ReplicasRow {
            config: args.config.name(),
            width_divisor: args.width_divisor,
            size: args.size,
            batch: args.batch,
            replicas: r.replicas,
            seconds: Rounded(r.seconds),
            images_per_s: Rounded(images_per_s),
            exchange_bytes_per_step: r.exchange.bytes,
            exchange_seconds_per_step: Rounded(r.exchange.seconds),
            scaling_efficiency: Rounded(efficiency),
        });
    }
    println!(
        "VGG-{} ÷{} @{} batch {} on {} replica(s): {:8.2} ms/step {images_per_s:8.1} images/s  exchange {:7.2} MB/step in {:6.2} ms  scaling efficiency {:.2}",
        args.config,
        args.width_divisor,
        args.size,
        args.batch,
        r.replicas,
        r.seconds * 1e3,
        r.exchange.bytes as f64 / 1e6,
        r.exchange.seconds * 1e3,
        efficiency
    );
    Ok(())
}
