//! Local response normalisation (across channels) launchers: `shaders/lrn.wgsl`.
//! Oracle: `src/oracle/lrn.rs`. Used by VGG's configuration A-LRN.
//!
//! # Shapes
//! a, b, da, db (N, C, H, W), all the same shape; every tensor may be chunked along N.

use super::layout::{uniform_layout, UniformLayout};
use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::{Error, Result};
use crate::gpu::{row_pieces, Tensor};
use crate::kernels::GpuContext;
use crate::shape::LrnParams;

const LRN: Shader = shader!("lrn.wgsl");

/// Mirrors `LrnParams` in `shaders/lrn.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LrnUniform {
    batch: u32,
    channels: u32,
    plane: u32,
    half: u32,
    alpha: f32,
    beta: f32,
    k: f32,
    a_offset: u32,
    out_offset: u32,
    db_offset: u32,
    _pad: [u32; 2],
}

/// The (N, C, H, W) shape of `a`, or an error naming the op.
fn nchw(op: &'static str, a: &Tensor) -> Result<[usize; 4]> {
    match a.shape.as_slice() {
        &[n, c, h, w] => Ok([n, c, h, w]),
        other => Err(Error::Shape {
            op,
            message: format!(
                "'{}' must be 4-D (N, C, H, W), got shape {other:?}",
                a.label
            ),
        }),
    }
}

impl LrnUniform {
    fn new(shape: [usize; 4], lrn: &LrnParams, batch: usize) -> LrnUniform {
        LrnUniform {
            batch: batch as u32,
            channels: shape[1] as u32,
            plane: (shape[2] * shape[3]) as u32,
            half: lrn.half() as u32,
            alpha: lrn.alpha,
            beta: lrn.beta,
            k: lrn.k,
            a_offset: 0,
            out_offset: 0,
            db_offset: 0,
            _pad: [0; 2],
        }
    }
}

/// b = LRN(a).
///
/// # Shapes
/// a (N, C, H, W) → b (N, C, H, W)
pub fn lrn_forward(
    ctx: &GpuContext,
    lrn: &LrnParams,
    a: &Tensor,
    b: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "lrn forward";
    lrn.validate(OP)?;
    let shape = nchw(OP, a)?;
    b.expect_shape(OP, "output", &shape)?;
    let mut launches = Vec::new();
    for piece in row_pieces(&[a, b]) {
        let mut params = LrnUniform::new(shape, lrn, piece.rows.len());
        params.a_offset = element_offset(piece.local_row[0], a.row_len());
        params.out_offset = element_offset(piece.local_row[1], b.row_len());
        launches.push(Launch::new(
            ctx,
            &LRN,
            "lrn_forward",
            &[
                &uniform(ctx, "lrn params", &params),
                &a.chunks[piece.chunk[0]].buffer,
                &b.chunks[piece.chunk[1]].buffer,
            ],
            piece.rows.len() * a.row_len(),
        ));
    }
    Ok(launches)
}

/// da from the input a and db; the normaliser is recomputed from a.
///
/// # Shapes
/// a (N, C, H, W), db (N, C, H, W) → da (N, C, H, W)
pub fn lrn_backward(
    ctx: &GpuContext,
    lrn: &LrnParams,
    a: &Tensor,
    db: &Tensor,
    da: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "lrn backward";
    lrn.validate(OP)?;
    let shape = nchw(OP, a)?;
    db.expect_shape(OP, "output gradient", &shape)?;
    da.expect_shape(OP, "input gradient", &shape)?;
    let mut launches = Vec::new();
    for piece in row_pieces(&[a, da, db]) {
        let mut params = LrnUniform::new(shape, lrn, piece.rows.len());
        params.a_offset = element_offset(piece.local_row[0], a.row_len());
        params.out_offset = element_offset(piece.local_row[1], da.row_len());
        params.db_offset = element_offset(piece.local_row[2], db.row_len());
        launches.push(Launch::new(
            ctx,
            &LRN,
            "lrn_backward",
            &[
                &uniform(ctx, "lrn params", &params),
                &a.chunks[piece.chunk[0]].buffer,
                &da.chunks[piece.chunk[1]].buffer,
                &db.chunks[piece.chunk[2]].buffer,
            ],
            piece.rows.len() * a.row_len(),
        ));
    }
    Ok(launches)
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        LrnUniform,
        "lrn.wgsl",
        "LrnParams",
        [batch, channels, plane, half, alpha, beta, k, a_offset, out_offset, db_offset]
    )]
}
