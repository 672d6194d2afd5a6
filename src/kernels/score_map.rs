//! Dense-evaluation reductions of a class score map: `shaders/score_map.wgsl`.
//! Oracle: `src/oracle/score_map.rs`.
//!
//! # Shapes
//! spatial_mean: score map (N, classes, H, W) → class scores (N, classes).
//! softmax: scores (N, classes) → probabilities (N, classes).
//! Every tensor may be chunked along N.

use super::layout::{uniform_layout, UniformLayout};
use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::{Error, Result};
use crate::gpu::{row_pieces, Tensor};
use crate::kernels::GpuContext;
use crate::shape::ScoreMapShape;

const SCORE_MAP: Shader = shader!("score_map.wgsl");

/// Mirrors `ScoreParams` in the shader.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ScoreParams {
    rows: u32,
    classes: u32,
    plane: u32,
    _pad0: u32,
    x_offset: u32,
    y_offset: u32,
    _pad1: u32,
    _pad2: u32,
}

/// One launch of `entry` per row piece of x and y; `per_row` invocations per sample.
fn launches(
    ctx: &GpuContext,
    entry: &'static str,
    s: &ScoreMapShape,
    x: &Tensor,
    y: &Tensor,
    per_row: usize,
) -> Vec<Launch> {
    row_pieces(&[x, y])
        .into_iter()
        .map(|piece| {
            let params = ScoreParams {
                rows: piece.rows.len() as u32,
                classes: s.classes as u32,
                plane: (s.height * s.width) as u32,
                _pad0: 0,
                x_offset: element_offset(piece.local_row[0], x.row_len()),
                y_offset: element_offset(piece.local_row[1], y.row_len()),
                _pad1: 0,
                _pad2: 0,
            };
            Launch::new(
                ctx,
                &SCORE_MAP,
                entry,
                &[
                    &uniform(ctx, "score map params", &params),
                    &x.chunks[piece.chunk[0]].buffer,
                    &y.chunks[piece.chunk[1]].buffer,
                ],
                piece.rows.len() * per_row,
            )
        })
        .collect()
}

/// y[n, c] = mean of map[n, c] over its H×W positions.
///
/// # Shapes
/// map (N, classes, H, W), y (N, classes)
pub fn spatial_mean(
    ctx: &GpuContext,
    s: &ScoreMapShape,
    map: &Tensor,
    y: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "score map spatial mean";
    s.validate(OP)?;
    map.expect_shape(OP, "score map", &s.map())?;
    y.expect_shape(OP, "class scores", &s.scores())?;
    Ok(launches(ctx, "spatial_mean", s, map, y, s.classes))
}

/// probabilities = softmax of each row of `scores`, through the row maximum.
/// `scores` and `probabilities` must be different tensors.
///
/// # Shapes
/// scores (N, classes), probabilities (N, classes)
pub fn softmax(
    ctx: &GpuContext,
    batch: usize,
    classes: usize,
    scores: &Tensor,
    probabilities: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "softmax";
    let s = ScoreMapShape {
        batch,
        classes,
        height: 1,
        width: 1,
    };
    s.validate(OP)?;
    scores.expect_shape(OP, "scores", &s.scores())?;
    probabilities.expect_shape(OP, "probabilities", &s.scores())?;
    if std::ptr::eq(scores, probabilities) {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "cannot run in place: give a separate output tensor".to_string(),
        });
    }
    Ok(launches(ctx, "softmax", &s, scores, probabilities, 1))
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        ScoreParams,
        "score_map.wgsl",
        "ScoreParams",
        [rows, classes, plane, x_offset, y_offset]
    )]
}
