//! Max-pool 2×2 stride 2 launchers: `shaders/maxpool2d.wgsl`. Oracle: `src/oracle/pool.rs`.
//!
//! # Shapes
//! x, dx (N, C, H, W); y, dy (N, C, H/2, W/2) (odd sizes floor, as in PyTorch).
//! Every tensor may be chunked along N.

use super::layout::{uniform_layout, UniformLayout};
use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::Result;
use crate::gpu::{row_pieces, Tensor};
use crate::kernels::GpuContext;
use crate::shape::PoolShape;

const MAXPOOL: Shader = shader!("maxpool2d.wgsl");

/// Mirrors `PoolParams` in `shaders/maxpool2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PoolParams {
    batch: u32,
    channels: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    x_offset: u32,
    out_offset: u32,
    dy_offset: u32,
    relu: u32,
    _pad: [u32; 2],
}

impl PoolParams {
    fn new(s: &PoolShape, batch: usize) -> PoolParams {
        PoolParams {
            batch: batch as u32,
            channels: s.channels as u32,
            in_h: s.in_h as u32,
            in_w: s.in_w as u32,
            out_h: s.out_h() as u32,
            out_w: s.out_w() as u32,
            x_offset: 0,
            out_offset: 0,
            dy_offset: 0,
            relu: 0,
            _pad: [0; 2],
        }
    }
}

/// y = max over each 2×2 window of x.
///
/// # Shapes
/// x (N, C, H, W) → y (N, C, H/2, W/2)
pub fn maxpool2d_forward(
    ctx: &GpuContext,
    s: &PoolShape,
    x: &Tensor,
    y: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "maxpool2d forward";
    s.validate(OP)?;
    x.expect_shape(OP, "input", &s.input())?;
    y.expect_shape(OP, "output", &s.output())?;

    let mut launches = Vec::new();
    for piece in row_pieces(&[x, y]) {
        let mut params = PoolParams::new(s, piece.rows.len());
        params.x_offset = element_offset(piece.local_row[0], x.row_len());
        params.out_offset = element_offset(piece.local_row[1], y.row_len());
        launches.push(Launch::new(
            ctx,
            &MAXPOOL,
            "maxpool2d_forward",
            &[
                &uniform(ctx, "maxpool params", &params),
                &x.chunks[piece.chunk[0]].buffer,
                &y.chunks[piece.chunk[1]].buffer,
            ],
            piece.rows.len() * y.row_len(),
        ));
    }
    Ok(launches)
}

/// dx = dy routed to the first maximum of each window of x (recomputed, row-major,
/// strictly greater), zero elsewhere, including an odd input's last row and column.
/// With `relu`, x is a ReLU's output and dx the gradient before that ReLU: also zero
/// where the winner is not positive (the ReLU's backward pass, fused).
///
/// # Shapes
/// x (N, C, H, W), dy (N, C, H/2, W/2) → dx (N, C, H, W)
pub fn maxpool2d_backward(
    ctx: &GpuContext,
    s: &PoolShape,
    x: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    relu: bool,
) -> Result<Vec<Launch>> {
    const OP: &str = "maxpool2d backward";
    s.validate(OP)?;
    x.expect_shape(OP, "input", &s.input())?;
    dy.expect_shape(OP, "output gradient", &s.output())?;
    dx.expect_shape(OP, "input gradient", &s.input())?;

    let mut launches = Vec::new();
    for piece in row_pieces(&[x, dx, dy]) {
        let mut params = PoolParams::new(s, piece.rows.len());
        params.x_offset = element_offset(piece.local_row[0], x.row_len());
        params.out_offset = element_offset(piece.local_row[1], dx.row_len());
        params.dy_offset = element_offset(piece.local_row[2], dy.row_len());
        params.relu = relu as u32;
        launches.push(Launch::new(
            ctx,
            &MAXPOOL,
            "maxpool2d_backward",
            &[
                &uniform(ctx, "maxpool params", &params),
                &x.chunks[piece.chunk[0]].buffer,
                &dx.chunks[piece.chunk[1]].buffer,
                &dy.chunks[piece.chunk[2]].buffer,
            ],
            piece.rows.len() * dy.row_len(),
        ));
    }
    Ok(launches)
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        PoolParams,
        "maxpool2d.wgsl",
        "PoolParams",
        [batch, channels, in_h, in_w, out_h, out_w, x_offset, out_offset, dy_offset, relu]
    )]
}
