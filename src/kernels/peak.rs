//! The adapter-ceiling launchers for `vgg-wgpu bench peak`: `shaders/peak.wgsl`.
//! Oracle: `src/oracle/peak.rs`.
//!
//! # Shapes
//! fma_peak: x (count) → out (count); load_peak: src (a power of two) → out (count).
//! Both single-chunk.

use super::layout::{uniform_layout, UniformLayout};
use super::{shader, uniform, Launch, Shader};
use crate::error::{Error, Result};
use crate::gpu::Tensor;
use crate::kernels::GpuContext;

const PEAK: Shader = shader!("peak.wgsl");

/// Floating-point operations of one `fma_peak` invocation per iteration: 2 steps × 16
/// chains × 4 lanes × (multiply + add).
pub const FMA_PEAK_FLOPS_PER_ITERATION: f64 = 256.0;

/// Loads of one `load_peak` invocation per iteration.
pub const LOADS_PER_ITERATION: u32 = 4;

/// Mirrors `PeakParams` in `shaders/peak.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PeakParams {
    count: u32,
    iterations: u32,
    src_mask: u32,
    _pad: u32,
}

/// One invocation per element of `x`: `iterations` × 256 multiply-add flops on values
/// held in registers; `out` gets what the chains sum to.
pub fn fma_peak(
    ctx: &GpuContext,
    x: &Tensor,
    out: &Tensor,
    iterations: u32,
) -> Result<Vec<Launch>> {
    const OP: &str = "fma peak";
    out.expect_shape(OP, "output", &x.shape)?;
    launch(ctx, OP, "fma_peak", x, out, iterations, 0)
}

/// One invocation per element of `out`: 4 × `iterations` loads from `src` each, consecutive
/// invocations reading consecutive floats; `out` gets their sums.
pub fn load_peak(
    ctx: &GpuContext,
    src: &Tensor,
    out: &Tensor,
    iterations: u32,
) -> Result<Vec<Launch>> {
    const OP: &str = "load peak";
    if !src.len().is_power_of_two() {
        return Err(Error::Shape {
            op: OP,
            message: format!(
                "the source has {} elements; it needs a power of two",
                src.len()
            ),
        });
    }
    launch(
        ctx,
        OP,
        "load_peak",
        src,
        out,
        iterations,
        src.len() as u32 - 1,
    )
}

/// One invocation per element of `out`.
fn launch(
    ctx: &GpuContext,
    op: &'static str,
    entry: &'static str,
    src: &Tensor,
    out: &Tensor,
    iterations: u32,
    src_mask: u32,
) -> Result<Vec<Launch>> {
    let params = PeakParams {
        count: out.len() as u32,
        iterations,
        src_mask,
        _pad: 0,
    };
    let p = uniform(ctx, "peak params", &params);
    let buffers = [&p, src.single_chunk(op)?, out.single_chunk(op)?];
    Ok(vec![Launch::new(ctx, &PEAK, entry, &buffers, out.len())])
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        PeakParams,
        "peak.wgsl",
        "PeakParams",
        [count, iterations, src_mask]
    )]
}
