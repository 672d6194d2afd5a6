//! Inverted dropout launchers: `shaders/dropout.wgsl`. Oracle: `src/oracle/dropout.rs`.
//!
//! The mask is never stored: element e is kept when the Philox4x32-10 draw for counter
//! (e, 0, 0, 0) and key (seed, step) is ≥ p, so the backward pass regenerates the
//! forward pass's mask from the same [`Dropout`], and the mask does not depend on how
//! the tensor is chunked.
//!
//! # Shapes
//! Input and output have the same shape, any rank; both may be chunked along dimension 0.

use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::{Error, Result};
use crate::gpu::{row_pieces, GpuContext, Tensor};

const DROPOUT: Shader = shader!("dropout.wgsl");

/// One dropout mask: drop probability `p`, drawn from key (`seed`, `step`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    /// Probability of dropping an element, in [0, 1).
    pub p: f32,
    /// Fixed for a training run.
    pub seed: u32,
    /// The training step (a fresh mask each step); forward and backward share it.
    pub step: u32,
}

impl Dropout {
    /// 1 / (1 − p), the factor applied to kept elements.
    pub fn scale(&self) -> f32 {
        1.0 / (1.0 - self.p)
    }

    pub fn validate(&self, op: &'static str) -> Result<()> {
        if !(0.0..1.0).contains(&self.p) {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "drop probability {} must lie in [0, 1) (1 would drop everything)",
                    self.p
                ),
            });
        }
        Ok(())
    }
}

/// Mirrors `DropoutParams` in `shaders/dropout.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DropoutParams {
    count: u32,
    in_offset: u32,
    out_offset: u32,
    index_lo: u32,
    index_hi: u32,
    seed: u32,
    step: u32,
    p: f32,
    scale: f32,
    _pad: [u32; 3],
}

/// output = input · mask · scale, for either pass.
fn launches(
    ctx: &GpuContext,
    op: &'static str,
    d: &Dropout,
    input: &Tensor,
    output: &Tensor,
) -> Result<Vec<Launch>> {
    d.validate(op)?;
    let row_len = input.row_len();
    let mut launches = Vec::new();
    for piece in row_pieces(&[input, output]) {
        let first = (piece.rows.start * row_len) as u64;
        let params = DropoutParams {
            count: (piece.rows.len() * row_len) as u32,
            in_offset: element_offset(piece.local_row[0], row_len),
            out_offset: element_offset(piece.local_row[1], row_len),
            index_lo: first as u32,
            index_hi: (first >> 32) as u32,
            seed: d.seed,
            step: d.step,
            p: d.p,
            scale: d.scale(),
            _pad: [0; 3],
        };
        if params.count == 0 {
            continue;
        }
        launches.push(Launch::new(
            ctx,
            &DROPOUT,
            "dropout",
            &[
                &uniform(ctx, "dropout params", &params),
                &input.chunks[piece.chunk[0]].buffer,
                &output.chunks[piece.chunk[1]].buffer,
            ],
            params.count as usize,
        ));
    }
    Ok(launches)
}

/// y = x · mask · 1/(1 − p).
///
/// # Shapes
/// x (L…) → y (L…), the same shape
pub fn dropout_forward(
    ctx: &GpuContext,
    d: &Dropout,
    x: &Tensor,
    y: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "dropout forward";
    y.expect_shape(OP, "output", &x.shape)?;
    launches(ctx, OP, d, x, y)
}

/// dx = dy · mask · 1/(1 − p), with the forward pass's mask (same `d`).
///
/// # Shapes
/// dy (L…) → dx (L…), the same shape
pub fn dropout_backward(
    ctx: &GpuContext,
    d: &Dropout,
    dy: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "dropout backward";
    dx.expect_shape(OP, "input gradient", &dy.shape)?;
    launches(ctx, OP, d, dy, dx)
}
