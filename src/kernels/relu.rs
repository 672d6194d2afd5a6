//! Standalone ReLU launchers: `shaders/relu.wgsl`. Oracle: `src/oracle/relu.rs`.
//!
//! The forward pass serves the FC layers (convolutions fuse their ReLU); the backward
//! pass serves every layer, since it needs only the ReLU output.
//!
//! # Shapes
//! Every tensor has the same shape, any rank; all may be chunked along dimension 0.

use super::layout::{uniform_layout, UniformLayout};
use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::Result;
use crate::gpu::{row_pieces, Tensor};
use crate::kernels::GpuContext;

const RELU: Shader = shader!("relu.wgsl");

/// Mirrors `ReluParams` in `shaders/relu.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReluParams {
    count: u32,
    a_offset: u32,
    out_offset: u32,
    dy_offset: u32,
}

/// y = max(x, 0).
///
/// # Shapes
/// x (L…) → y (L…), the same shape
pub fn relu_forward(ctx: &GpuContext, x: &Tensor, y: &Tensor) -> Result<Vec<Launch>> {
    const OP: &str = "relu forward";
    y.expect_shape(OP, "output", &x.shape)?;
    let mut launches = Vec::new();
    for piece in row_pieces(&[x, y]) {
        let params = ReluParams {
            count: (piece.rows.len() * x.row_len()) as u32,
            a_offset: element_offset(piece.local_row[0], x.row_len()),
            out_offset: element_offset(piece.local_row[1], y.row_len()),
            dy_offset: 0,
        };
        if params.count == 0 {
            continue;
        }
        launches.push(Launch::new(
            ctx,
            &RELU,
            "relu_forward",
            &[
                &uniform(ctx, "relu params", &params),
                &x.chunks[piece.chunk[0]].buffer,
                &y.chunks[piece.chunk[1]].buffer,
            ],
            params.count as usize,
        ));
    }
    Ok(launches)
}

/// dx = dy where y > 0, else 0; `y` is the ReLU's output.
///
/// # Shapes
/// y (L…), dy (L…) → dx (L…), all the same shape
pub fn relu_backward(
    ctx: &GpuContext,
    y: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "relu backward";
    dy.expect_shape(OP, "output gradient", &y.shape)?;
    dx.expect_shape(OP, "input gradient", &y.shape)?;
    let mut launches = Vec::new();
    for piece in row_pieces(&[y, dx, dy]) {
        let params = ReluParams {
            count: (piece.rows.len() * y.row_len()) as u32,
            a_offset: element_offset(piece.local_row[0], y.row_len()),
            out_offset: element_offset(piece.local_row[1], dx.row_len()),
            dy_offset: element_offset(piece.local_row[2], dy.row_len()),
        };
        if params.count == 0 {
            continue;
        }
        launches.push(Launch::new(
            ctx,
            &RELU,
            "relu_backward",
            &[
                &uniform(ctx, "relu params", &params),
                &y.chunks[piece.chunk[0]].buffer,
                &dx.chunks[piece.chunk[1]].buffer,
                &dy.chunks[piece.chunk[2]].buffer,
            ],
            params.count as usize,
        ));
    }
    Ok(launches)
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        ReluParams,
        "relu.wgsl",
        "ReluParams",
        [count, a_offset, out_offset, dy_offset]
    )]
}
