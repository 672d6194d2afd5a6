//! SGD with momentum and weight decay: `shaders/sgd.wgsl`. Oracle: `src/oracle/sgd.rs`.
//!
//! # Shapes
//! w (parameters), g (gradient), v (momentum buffer): one shape, any rank; chunked
//! along dimension 0 like every tensor.
//!
//! The hyper-parameters sit in one small uniform buffer owned by [`SgdStep`]: changing
//! the learning rate between steps is one `queue.write_buffer`, no new launches.

use super::layout::{uniform_layout, UniformLayout};
use super::{element_offset, shader, uniform, Launch, Shader};
use crate::error::Result;
use crate::gpu::{row_pieces, Tensor};
use crate::kernels::GpuContext;
use crate::shape::SgdHyper;

const SGD: Shader = shader!("sgd.wgsl");

/// Mirrors `SgdParams` in `shaders/sgd.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SgdParams {
    count: u32,
    w_offset: u32,
    g_offset: u32,
    v_offset: u32,
}

/// The in-place update of any number of parameter tensors, sharing one uniform buffer
/// of hyper-parameters.
pub struct SgdStep {
    /// Record these (in any order: the tensors are independent) to apply one step.
    pub launches: Vec<Launch>,
    /// The [`SgdHyper`] every launch reads; rewrite it with [`SgdStep::set`].
    pub hyper: wgpu::Buffer,
}

impl SgdStep {
    /// No tensors yet; add them with [`SgdStep::add`].
    pub fn new(ctx: &GpuContext, hyper: &SgdHyper) -> SgdStep {
        SgdStep {
            launches: Vec::new(),
            hyper: uniform(ctx, "sgd hyper-parameters", hyper),
        }
    }

    /// Sets the hyper-parameters used by the next submission of the launches.
    pub fn set(&self, ctx: &GpuContext, hyper: &SgdHyper) {
        ctx.queue
            .write_buffer(&self.hyper, 0, bytemuck::bytes_of(hyper));
    }

    /// Appends the launches that update `w` in place from `g`, keeping momentum in `v`.
    ///
    /// # Shapes
    /// w, g, v: the same shape.
    pub fn add(&mut self, ctx: &GpuContext, w: &Tensor, g: &Tensor, v: &Tensor) -> Result<()> {
        const OP: &str = "sgd step";
        g.expect_shape(OP, "gradient", &w.shape)?;
        v.expect_shape(OP, "momentum", &w.shape)?;
        let row_len = w.row_len();
        if w.is_empty() {
            return Ok(());
        }
        for piece in row_pieces(&[w, g, v]) {
            let params = SgdParams {
                count: (piece.rows.len() * row_len) as u32,
                w_offset: element_offset(piece.local_row[0], row_len),
                g_offset: element_offset(piece.local_row[1], row_len),
                v_offset: element_offset(piece.local_row[2], row_len),
            };
            self.launches.push(Launch::new(
                ctx,
                &SGD,
                "sgd_step",
                &[
                    &self.hyper,
                    &uniform(ctx, "sgd params", &params),
                    &w.chunks[piece.chunk[0]].buffer,
                    &g.chunks[piece.chunk[1]].buffer,
                    &v.chunks[piece.chunk[2]].buffer,
                ],
                params.count as usize,
            ));
        }
        Ok(())
    }
}

/// One [`SgdStep`] over the single parameter tensor `w`.
///
/// # Shapes
/// w, g, v: the same shape.
pub fn sgd_step(
    ctx: &GpuContext,
    hyper: &SgdHyper,
    w: &Tensor,
    g: &Tensor,
    v: &Tensor,
) -> Result<SgdStep> {
    let mut step = SgdStep::new(ctx, hyper);
    step.add(ctx, w, g, v)?;
    Ok(step)
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![
        uniform_layout!(
            SgdHyper,
            "sgd.wgsl",
            "SgdHyper",
            [lr, momentum, weight_decay, grad_scale]
        ),
        uniform_layout!(
            SgdParams,
            "sgd.wgsl",
            "SgdParams",
            [count, w_offset, g_offset, v_offset]
        ),
    ]
}
