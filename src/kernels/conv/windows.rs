//! A convolution without padding over a small output map run as a fully connected
//! layer on its windows' rows (dense evaluation's FC layers past the training size; see
//! `graph::ops::Conv2d`): `shaders/conv_windows.wgsl` lays each output position's
//! window out as a row (`unfold_windows`) and puts the rows of outputs back into the
//! map (`fold_positions`). Oracle: `src/oracle/windows.rs`.
//!
//! # Shapes
//! x (N, C, H, W) → rows (N·P, C·K·K); rows (N·P, O) → y (N, O, OH, OW); P = OH·OW,
//! no padding. Every tensor must fit one storage binding.

use crate::error::{Error, Result};
use crate::gpu::Tensor;
use crate::kernels::layout::{uniform_layout, UniformLayout};
use crate::kernels::{shader, uniform, GpuContext, Launch, Shader};
use crate::shape::ConvShape;

const WINDOWS: Shader = shader!("conv_windows.wgsl");

/// Mirrors `WindowsParams` in `shaders/conv_windows.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WindowsParams {
    batch: u32,
    channels: u32,
    in_h: u32,
    in_w: u32,
    kernel: u32,
    out_h: u32,
    out_w: u32,
    features: u32,
}

impl WindowsParams {
    fn of(op: &'static str, s: &ConvShape) -> Result<WindowsParams> {
        s.validate(op)?;
        if s.pad != 0 {
            return Err(Error::InvalidArgument {
                op,
                message: format!("windows are unpadded; this convolution pads by {}", s.pad),
            });
        }
        Ok(WindowsParams {
            batch: s.batch as u32,
            channels: s.in_channels as u32,
            in_h: s.in_h as u32,
            in_w: s.in_w as u32,
            kernel: s.kernel as u32,
            out_h: s.out_h() as u32,
            out_w: s.out_w() as u32,
            features: s.out_channels as u32,
        })
    }
}

/// The shape of the window rows of `s`: (N·P, C·K·K).
pub fn window_rows(s: &ConvShape) -> [usize; 2] {
    let positions = s.out_h() * s.out_w();
    [s.batch * positions, s.in_channels * s.kernel * s.kernel]
}

/// The shape of the output rows of `s`: (N·P, O).
pub fn output_rows(s: &ConvShape) -> [usize; 2] {
    [s.batch * s.out_h() * s.out_w(), s.out_channels]
}

/// rows[n·P + p] = the window of x under output position p of sample n, in the
/// filter's (C, K, K) order.
pub fn unfold_windows(
    ctx: &GpuContext,
    s: &ConvShape,
    x: &Tensor,
    rows: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "unfold windows";
    let params = WindowsParams::of(OP, s)?;
    x.expect_shape(OP, "input", &s.input())?;
    rows.expect_shape(OP, "window rows", &window_rows(s))?;
    Ok(vec![Launch::new(
        ctx,
        &WINDOWS,
        "unfold",
        &[
            &uniform(ctx, "windows params", &params),
            x.single_chunk(OP)?,
            rows.single_chunk(OP)?,
        ],
        rows.len(),
    )])
}

/// y[n, o, p] = rows[n·P + p, o].
pub fn fold_positions(
    ctx: &GpuContext,
    s: &ConvShape,
    rows: &Tensor,
    y: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "fold positions";
    let params = WindowsParams::of(OP, s)?;
    rows.expect_shape(OP, "output rows", &output_rows(s))?;
    y.expect_shape(OP, "output", &s.output())?;
    Ok(vec![Launch::new(
        ctx,
        &WINDOWS,
        "fold",
        &[
            &uniform(ctx, "windows params", &params),
            rows.single_chunk(OP)?,
            y.single_chunk(OP)?,
        ],
        y.len(),
    )])
}

/// The parameter struct of this kernel, for the check against the WGSL struct it
/// mirrors (see [`crate::kernels::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        WindowsParams,
        "conv_windows.wgsl",
        "WindowsParams",
        [batch, channels, in_h, in_w, kernel, out_h, out_w, features]
    )]
}
