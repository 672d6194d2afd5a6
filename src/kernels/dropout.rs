//! Inverted dropout launchers: `shaders/dropout.wgsl`. Oracle: `src/oracle/dropout.rs`.
//!
//! The mask is never stored: element (row r, column j) of a tensor whose rows are
//! samples is kept when the Philox4x32-10 draw for counter (j, sample_base + r, 0, 0)
//! and key (seed, step) is ≥ p. The backward pass regenerates the forward pass's mask
//! from the same [`DropoutRng`] contents; the mask does not depend on how the tensor is
//! chunked, nor on how the step's batch is split into micro-batches or across devices
//! (sample_base places the tensor's rows in that batch).
//!
//! The key lives in one small uniform buffer, [`DropoutRng`], shared by every dropout
//! launch of a network: a new step is one `queue.write_buffer`, no new launches or bind
//! groups.
//!
//! # Shapes
//! Input and output have the same shape, any rank; dimension 0 indexes samples and both
//! may be chunked along it.

use super::layout::{uniform_layout, UniformLayout};
use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::Result;
use crate::gpu::{row_pieces, Tensor};
use crate::kernels::GpuContext;
use crate::shape::Dropout;

const DROPOUT: Shader = shader!("dropout.wgsl");

/// Mirrors `DropoutKey` in `shaders/dropout.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DropoutKey {
    seed: u32,
    step: u32,
    sample_base: u32,
    _pad: u32,
}

/// The random key every dropout launch of a network reads: Philox key (seed, step) and
/// sample_base, the global index (within the step's whole batch) of row 0 of the tensors
/// being processed. Rewrite it with [`DropoutRng::set`] before submitting the launches.
pub struct DropoutRng {
    /// A 16-byte uniform buffer {seed, step, sample_base, pad}.
    pub buffer: wgpu::Buffer,
}

impl DropoutRng {
    /// seed = step = sample_base = 0 until [`DropoutRng::set`].
    pub fn new(ctx: &GpuContext) -> DropoutRng {
        let key = DropoutKey {
            seed: 0,
            step: 0,
            sample_base: 0,
            _pad: 0,
        };
        DropoutRng {
            buffer: uniform(ctx, "dropout rng", &key),
        }
    }

    /// Sets the key used by the next submission of the launches that read it: `seed`
    /// (fixed for a training run), `step` (a fresh mask each step; forward and backward
    /// share it) and `sample_base` (the batch index of the tensors' row 0).
    pub fn set(&self, ctx: &GpuContext, seed: u32, step: u32, sample_base: u32) {
        let key = DropoutKey {
            seed,
            step,
            sample_base,
            _pad: 0,
        };
        ctx.queue
            .write_buffer(&self.buffer, 0, bytemuck::bytes_of(&key));
    }
}

/// Mirrors `DropoutParams` in `shaders/dropout.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DropoutParams {
    count: u32,
    in_offset: u32,
    out_offset: u32,
    row_len: u32,
    first_row: u32,
    p: f32,
    scale: f32,
    _pad: u32,
}

/// output = input · mask · scale, for either pass.
fn launches(
    ctx: &GpuContext,
    op: &'static str,
    d: &Dropout,
    rng: &DropoutRng,
    input: &Tensor,
    output: &Tensor,
) -> Result<Vec<Launch>> {
    d.validate(op)?;
    let row_len = input.row_len();
    let mut launches = Vec::new();
    for piece in row_pieces(&[input, output]) {
        let params = DropoutParams {
            count: (piece.rows.len() * row_len) as u32,
            in_offset: element_offset(piece.local_row[0], row_len),
            out_offset: element_offset(piece.local_row[1], row_len),
            row_len: row_len as u32,
            first_row: piece.rows.start as u32,
            p: d.p,
            scale: d.scale(),
            _pad: 0,
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
                &rng.buffer,
                &input.chunks[piece.chunk[0]].buffer,
                &output.chunks[piece.chunk[1]].buffer,
            ],
            params.count as usize,
        ));
    }
    Ok(launches)
}

/// y = x · mask · 1/(1 − p), the mask drawn from the key in `rng` when the launches run.
///
/// # Shapes
/// x (N, …) → y (N, …), the same shape; dimension 0 indexes samples
pub fn dropout_forward(
    ctx: &GpuContext,
    d: &Dropout,
    rng: &DropoutRng,
    x: &Tensor,
    y: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "dropout forward";
    y.expect_shape(OP, "output", &x.shape)?;
    launches(ctx, OP, d, rng, x, y)
}

/// dx = dy · mask · 1/(1 − p), with the forward pass's mask (same `d`, and `rng` holding
/// the same key when the launches run).
///
/// # Shapes
/// dy (N, …) → dx (N, …), the same shape; dimension 0 indexes samples
pub fn dropout_backward(
    ctx: &GpuContext,
    d: &Dropout,
    rng: &DropoutRng,
    dy: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "dropout backward";
    dx.expect_shape(OP, "input gradient", &dy.shape)?;
    launches(ctx, OP, d, rng, dy, dx)
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![
        uniform_layout!(
            DropoutKey,
            "dropout.wgsl",
            "DropoutKey",
            [seed, step, sample_base]
        ),
        uniform_layout!(
            DropoutParams,
            "dropout.wgsl",
            "DropoutParams",
            [count, in_offset, out_offset, row_len, first_row, p, scale]
        ),
    ]
}
