//! `vgg-wgpu bench replicas`: data-parallel training with 1 and with N replicas on
//! devices of the chosen adapter — images/s, the bytes each step exchanges, the time
//! the exchange takes, and the scaling efficiency (images/s with N ÷ N × with 1).

use vgg_wgpu::gpu::context::open_devices;
use vgg_wgpu::gpu::{AdapterChoice, GpuContext};
use vgg_wgpu::graph::data_parallel::DEFAULT_BUCKET_BYTES;
use vgg_wgpu::graph::{DataParallel, ExchangeStats, Network, SingleProcess};
use vgg_wgpu::train::init::{random_weights, Init};
use vgg_wgpu::{Error, Result};

use super::bench::{bench_spec, time_repeatedly, BenchArgs, StepInputs};

/// What one configuration measured per step.
struct Scaling {
    replicas: usize,
    seconds: f64,
    exchange: ExchangeStats,
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
    let index = pollster::block_on(vgg_wgpu::gpu::context::list_adapters(choice.backends()?))
        .iter()
        .position(|a| a.get_info() == ctx.adapter_info)
        .unwrap_or(0);
    let spec = bench_spec(args)?;
    let net = Network::new(&spec, 0.5);
    let weights = random_weights(&spec, &Init::Glorot, 0);
    let StepInputs {
        images,
        labels,
        hyper,
    } = StepInputs::new(args);
    let mut results = Vec::new();
    for replicas in [1, n] {
        let list = vec![index.to_string(); replicas].join(",");
        let devices = pollster::block_on(open_devices(choice, &list))?;
        let parallel = pollster::block_on(DataParallel::new(
            &devices,
            &net,
            &weights,
            args.batch / replicas,
            1,
            1,
            DEFAULT_BUCKET_BYTES,
        ))?;
        let mut exchange = ExchangeStats::default();
        let mut steps = 0u32;
        let seconds = time_repeatedly(args.min_seconds, || {
            let (_, e) = pollster::block_on(parallel.step(
                &images,
                &labels,
                &hyper,
                0,
                0,
                0,
                &SingleProcess,
            ))?;
            exchange.bytes += e.bytes;
            exchange.seconds += e.seconds;
            steps += 1;
            Ok(())
        })?;
        exchange.bytes /= steps as u64;
        exchange.seconds /= steps as f64;
        results.push(Scaling {
            replicas,
            seconds,
            exchange,
        });
    }
    let one = results[0].seconds;
    for r in &results {
        let images_per_s = args.batch as f64 / r.seconds;
        let efficiency = one / r.seconds / r.replicas as f64;
        if args.json {
            println!(
                "{{\"config\":\"{}\",\"width_divisor\":{},\"size\":{},\"batch\":{},\"replicas\":{},\"seconds\":{:.6},\"images_per_s\":{images_per_s:.2},\"exchange_bytes_per_step\":{},\"exchange_seconds_per_step\":{:.6},\"scaling_efficiency\":{efficiency:.3}}}",
                args.config, args.width_divisor, args.size, args.batch, r.replicas, r.seconds,
                r.exchange.bytes, r.exchange.seconds
            );
        } else {
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
        }
    }
    Ok(())
}
