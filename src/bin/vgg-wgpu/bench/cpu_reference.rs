//! The CPU yardsticks, each run as a `python3 -c` subprocess: numpy's matmul (OpenBLAS
//! or whatever BLAS it was built with) for the kernels, since a plain-Rust SGEMM would
//! understate what the CPU can do, and PyTorch for whole training steps. An error says
//! why a reference could not run (no python3, no numpy, no torch).

use std::process::{Command, Output};

use vgg_wgpu::shape::ConvShape;

use super::args::BenchArgs;

/// Times an M×K by K×N float32 matmul per shape, M, N, K being the layer's implicit
/// GEMM (same FLOP count as the convolution).
const SGEMM_SCRIPT: &str = r#"
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

/// GFLOP/s of numpy's SGEMM on each [M, N, K].
pub fn numpy_sgemm_gflops(gemms: &[[usize; 3]], min_seconds: f64) -> Result<Vec<f64>, String> {
    let specs = gemms.iter().map(|[m, n, k]| format!("{m}x{n}x{k}"));
    let output = Command::new("python3")
        .arg("-c")
        .arg(SGEMM_SCRIPT)
        .arg(min_seconds.to_string())
        .args(specs)
        .output();
    let stdout = succeeded(output, "numpy")?;
    let seconds: Vec<f64> = stdout
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

/// Images/s of the same network in PyTorch on the CPU (`benches/pytorch_step.py`).
pub struct PytorchImagesPerSecond {
    pub training: f64,
    pub inference: f64,
}

/// Training-step and inference images/s of the network of `args` in PyTorch.
pub fn pytorch_images_per_s(args: &BenchArgs) -> Result<PytorchImagesPerSecond, String> {
    const SCRIPT: &str = include_str!("../../../../benches/pytorch_step.py");
    let output = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .args(["--config", args.config.name()])
        .args(["--width-divisor", &args.width_divisor.to_string()])
        .args(["--size", &args.size.to_string()])
        .args(["--batch", &args.batch.to_string()])
        .args(["--classes", &args.classes.to_string()])
        .args(["--min-seconds", &args.min_seconds.max(1.0).to_string()])
        .output();
    let stdout = succeeded(output, "torch")?;
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("unexpected output from python3: {e}"))?;
    let field = |name: &str| {
        json[name]
            .as_f64()
            .ok_or_else(|| format!("no {name} in the PyTorch output"))
    };
    Ok(PytorchImagesPerSecond {
        training: field("train_images_per_s")?,
        inference: field("inference_images_per_s")?,
    })
}

/// The standard output of a python3 run that used `module`, or why it failed: the
/// last line of its standard error (the exception).
fn succeeded(output: std::io::Result<Output>, module: &str) -> Result<String, String> {
    let output = output.map_err(|e| format!("cannot run python3: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim().to_string();
        return Err(format!("python3 with {module} failed: {last}"));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
