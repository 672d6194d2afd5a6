//! `vgg-wgpu bench peak`: the adapter's own ceilings, and numpy's SGEMM on the CPU for
//! scale.

use serde::Serialize;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::Result;

use super::adapter_peak::{fma_gflops, load_gfloats};
use super::args::BenchArgs;
use super::cpu_reference::numpy_sgemm_gflops;
use super::report::{print_json, Rounded};

/// The square SGEMM numpy times for scale.
const SGEMM_SIDE: usize = 2048;

/// One ceiling as a JSON line; each line carries only its own numbers.
#[derive(Serialize)]
struct PeakRow {
    pass: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gflop_per_s: Option<Rounded<3>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gfloats_per_s: Option<Rounded<4>>,
    /// Multiply-adds the adapter can do in the time of one load.
    #[serde(skip_serializing_if = "Option::is_none")]
    fma_per_load: Option<Rounded<2>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fma_peak_ratio_to_numpy: Option<Rounded<4>>,
}

pub fn run(ctx: &GpuContext, args: &BenchArgs) -> Result<()> {
    let cpu = if args.no_cpu_reference {
        None
    } else {
        numpy_sgemm_gflops(&[[SGEMM_SIDE; 3]], args.min_seconds)
            .map_err(|why| eprintln!("CPU reference unavailable: {why}"))
            .ok()
            .map(|g| g[0])
    };
    let fma = fma_gflops(ctx, args.min_seconds)?;
    let loads = load_gfloats(ctx, args.min_seconds)?;
    let balance = fma / 2.0 / loads;
    if args.json {
        return print_rows(fma, loads, balance, cpu);
    }
    println!("adapter: {}", ctx.describe());
    println!("multiply-add peak (fp32, values in registers): {fma:9.2} GFLOP/s");
    println!(
        "storage loads (consecutive floats):            {loads:9.3} G floats/s ({:.1} GB/s): \
         a kernel needs {balance:.0} multiply-adds per float loaded to reach the peak",
        loads * 4.0
    );
    if let Some(cpu) = cpu {
        println!(
            "numpy SGEMM {SGEMM_SIDE}³ on the CPU:                {cpu:9.2} GFLOP/s; adapter peak ÷ numpy {:.2}",
            fma / cpu
        );
    }
    Ok(())
}

fn print_rows(fma: f64, loads: f64, balance: f64, cpu: Option<f64>) -> Result<()> {
    let empty = |pass: &str| PeakRow {
        pass: pass.to_string(),
        gflop_per_s: None,
        gfloats_per_s: None,
        fma_per_load: None,
        fma_peak_ratio_to_numpy: None,
    };
    print_json(&PeakRow {
        gflop_per_s: Some(Rounded(fma)),
        ..empty("fma peak")
    })?;
    print_json(&PeakRow {
        gfloats_per_s: Some(Rounded(loads)),
        fma_per_load: Some(Rounded(balance)),
        ..empty("storage loads")
    })?;
    if let Some(cpu) = cpu {
        print_json(&PeakRow {
            gflop_per_s: Some(Rounded(cpu)),
            fma_peak_ratio_to_numpy: Some(Rounded(fma / cpu)),
            ..empty(&format!("numpy sgemm {SGEMM_SIDE}"))
        })?;
    }
    Ok(())
}
