//! Softmax cross-entropy launchers: `shaders/softmax_cross_entropy.wgsl`.
//! Oracle: `src/oracle/loss.rs`.
//!
//! # Shapes
//! logits (N, classes) f32, labels (N) u32, dlogits (N, classes) f32,
//! per-sample stats (N, 3) f32 = [loss, top-1 hit, top-5 hit], totals (3) f32 =
//! [Σ loss, top-1 hits, top-5 hits]. Every (N, …) tensor may be chunked along N;
//! totals must be one chunk. A training step reads back only `totals`.
//!
//! A label ≥ classes gives a NaN loss, a NaN dlogits row and a miss, so the totals show
//! it; the data loader is expected to reject such labels before they reach the GPU.

use super::layout::{uniform_layout, UniformLayout};
use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::{Error, Result};
use crate::gpu::{row_pieces, Tensor};
use crate::kernels::GpuContext;
use crate::shape::{LossShape, STATS};

const LOSS: Shader = shader!("softmax_cross_entropy.wgsl");

/// The tensors a loss evaluation writes.
pub struct LossOutputs<'a> {
    /// (N, classes): (softmax − onehot) · grad_scale
    pub dlogits: &'a Tensor,
    /// (N, 3): [loss, top-1 hit, top-5 hit] of each sample
    pub stats: &'a Tensor,
    /// (3): [Σ loss, top-1 hits, top-5 hits] over the batch
    pub totals: &'a Tensor,
}

/// Mirrors `LossParams` in the shader.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LossParams {
    rows: u32,
    classes: u32,
    grad_scale: f32,
    _pad0: u32,
    logits_offset: u32,
    labels_offset: u32,
    dlogits_offset: u32,
    stats_offset: u32,
}

/// Mirrors `SumParams` in the shader.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SumParams {
    rows: u32,
    stats_offset: u32,
    accumulate: u32,
    _pad0: u32,
}

/// Loss, gradient and hits of every sample, then their totals.
///
/// `grad_scale` multiplies dlogits: 1/N_total gives the gradient of the mean loss over
/// N_total samples, so a batch evaluated in several calls (or gradients accumulated over
/// several steps) still sums to the gradient of one mean.
///
/// # Shapes
/// logits (N, classes), labels (N) u32, outputs as in [`LossOutputs`].
pub fn softmax_cross_entropy(
    ctx: &GpuContext,
    s: &LossShape,
    grad_scale: f32,
    logits: &Tensor,
    labels: &Tensor,
    out: &LossOutputs,
) -> Result<Vec<Launch>> {
    const OP: &str = "softmax cross-entropy";
    s.validate(OP)?;
    logits.expect_shape(OP, "logits", &s.logits())?;
    labels.expect_shape(OP, "labels", &s.labels())?;
    out.dlogits.expect_shape(OP, "dlogits", &s.logits())?;
    out.stats.expect_shape(OP, "stats", &s.stats())?;

    let mut launches = Vec::new();
    for piece in row_pieces(&[logits, labels, out.dlogits, out.stats]) {
        let params = LossParams {
            rows: piece.rows.len() as u32,
            classes: s.classes as u32,
            grad_scale,
            _pad0: 0,
            logits_offset: element_offset(piece.local_row[0], s.classes),
            labels_offset: element_offset(piece.local_row[1], 1),
            dlogits_offset: element_offset(piece.local_row[2], s.classes),
            stats_offset: element_offset(piece.local_row[3], STATS),
        };
        launches.push(Launch::new(
            ctx,
            &LOSS,
            "softmax_cross_entropy",
            &[
                &uniform(ctx, "loss params", &params),
                &logits.chunks[piece.chunk[0]].buffer,
                &labels.chunks[piece.chunk[1]].buffer,
                &out.dlogits.chunks[piece.chunk[2]].buffer,
                &out.stats.chunks[piece.chunk[3]].buffer,
            ],
            piece.rows.len(),
        ));
    }
    launches.extend(sum_loss_stats(ctx, s.batch, out.stats, out.totals)?);
    Ok(launches)
}

/// totals = the column sums of `stats`, in a fixed order (deterministic).
///
/// # Shapes
/// stats (N, 3), may be chunked along N; totals (3), one chunk.
pub fn sum_loss_stats(
    ctx: &GpuContext,
    batch: usize,
    stats: &Tensor,
    totals: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "loss totals";
    stats.expect_shape(OP, "stats", &[batch, STATS])?;
    totals.expect_shape(OP, "totals", &[STATS])?;
    if batch == 0 {
        return Err(Error::Shape {
            op: OP,
            message: "needs at least one sample".to_string(),
        });
    }
    let totals_buffer = totals.single_chunk(OP)?;
    Ok(row_pieces(&[stats])
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let params = SumParams {
                rows: piece.rows.len() as u32,
                stats_offset: element_offset(piece.local_row[0], STATS),
                accumulate: (i > 0) as u32,
                _pad0: 0,
            };
            Launch::new(
                ctx,
                &LOSS,
                "sum_loss_stats",
                &[
                    &uniform(ctx, "loss sum params", &params),
                    &stats.chunks[piece.chunk[0]].buffer,
                    totals_buffer,
                ],
                STATS,
            )
        })
        .collect())
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![
        uniform_layout!(
            LossParams,
            "softmax_cross_entropy.wgsl",
            "LossParams",
            [
                rows,
                classes,
                grad_scale,
                logits_offset,
                labels_offset,
                dlogits_offset,
                stats_offset
            ]
        ),
        uniform_layout!(
            SumParams,
            "softmax_cross_entropy.wgsl",
            "SumParams",
            [rows, stats_offset, accumulate]
        ),
    ]
}
