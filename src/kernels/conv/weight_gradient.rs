//! Weight and bias gradient: `shaders/conv2d_backward_weight_tiled.wgsl` on adapters
//! that are not CPUs (see `KernelSettings::conv_tiles`); on CPUs
//! `shaders/conv2d_backward_weight_subgroup.wgsl` where the device has subgroups and the
//! layer is wide enough, else `shaders/conv2d_backward_weight.wgsl`; rows split into parts (see [`super::row_split`])
//! are summed by `shaders/conv2d_backward_weight_reduce.wgsl`. Oracle: `conv2d_backward`
//! in `src/oracle/conv.rs`.

use super::row_split::{RowSplit, WEIGHT_GRAD_SCRATCH_BYTES};
use super::weight_kernel::WeightKernel;
use crate::error::{Error, Result};
use crate::gpu::tensor::new_storage_buffer;
use crate::gpu::{row_pieces, Chunk, RowPiece, Shader, Tensor};
use crate::kernels::layout::{uniform_layout, UniformLayout};
use crate::kernels::GpuContext;
use crate::kernels::{element_offset, shader, uniform, Launch};
use crate::shape::ConvShape;

const BACKWARD_WEIGHT_REDUCE: Shader = shader!("conv2d_backward_weight_reduce.wgsl");

/// Mirrors `ConvParams` in `shaders/prelude.wgsl` (the weight-gradient shaders).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct ConvParams {
    batch: u32,
    in_channels: u32,
    in_h: u32,
    in_w: u32,
    out_channels: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    pad: u32,
    relu: u32,
    o_begin: u32,
    o_count: u32,
    x_offset: u32,
    y_offset: u32,
    accumulate: u32,
    parts: u32,
    rows_per_part: u32,
    db_base: u32,
    _pad: [u32; 2],
}

impl ConvParams {
    pub(super) fn new(s: &ConvShape, batch: usize) -> ConvParams {
        ConvParams {
            batch: batch as u32,
            in_channels: s.in_channels as u32,
            in_h: s.in_h as u32,
            in_w: s.in_w as u32,
            out_channels: s.out_channels as u32,
            out_h: s.out_h() as u32,
            out_w: s.out_w() as u32,
            kernel: s.kernel as u32,
            pad: s.pad as u32,
            relu: 0,
            o_begin: 0,
            o_count: s.out_channels as u32,
            x_offset: 0,
            y_offset: 0,
            accumulate: 0,
            parts: 1,
            rows_per_part: (batch * s.out_h()) as u32,
            db_base: 0,
            _pad: [0; 2],
        }
    }
}

/// dweight and dbias, the gradients of the loss w.r.t. the weight and the bias, given
/// the input x and dy, the gradient w.r.t. the output before any ReLU, overwriting what
/// dweight and dbias held; [`conv2d_backward_weight_accumulate`] adds to it instead.
/// Both are sums over the batch: over row pieces of (x, dy) the first writes them,
/// later ones add.
///
/// # Shapes
/// x (N, C, H, W), dy (N, O, OH, OW), dweight (O, C, K, K), dbias (O); x and dy may be
/// chunked along N, dweight along O; dbias must be one chunk.
pub fn conv2d_backward_weight(
    ctx: &GpuContext,
    s: &ConvShape,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    dbias: &Tensor,
) -> Result<Vec<Launch>> {
    backward_weight(ctx, s, x, dy, dweight, dbias, false)
}

/// dweight += the weight gradient and dbias += the bias gradient of this batch (see
/// [`conv2d_backward_weight`]): gradient accumulation over several batches (scale the
/// sum in the optimizer with `SgdHyper::grad_scale`). Every row piece adds.
///
/// # Shapes
/// x (N, C, H, W), dy (N, O, OH, OW), dweight (O, C, K, K), dbias (O); x and dy may be
/// chunked along N, dweight along O; dbias must be one chunk.
pub fn conv2d_backward_weight_accumulate(
    ctx: &GpuContext,
    s: &ConvShape,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    dbias: &Tensor,
) -> Result<Vec<Launch>> {
    backward_weight(ctx, s, x, dy, dweight, dbias, true)
}

/// Both of the above: `add` decides whether the first row piece writes or adds.
fn backward_weight(
    ctx: &GpuContext,
    s: &ConvShape,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    dbias: &Tensor,
    add: bool,
) -> Result<Vec<Launch>> {
    let dbias = check_shapes(s, x, dy, dweight, dbias)?;
    // One launch (plus a reduce launch when its rows are split) per weight chunk and
    // row piece of (x, dy); the split of each is planned first to size the scratch.
    let pieces = row_pieces(&[x, dy]);
    let kernel = WeightKernel::choose(ctx, s, dweight.chunks[0].rows.len());
    let plans = plan_pieces(ctx, s, kernel, &pieces, dweight, add);
    let pass = Pass {
        ctx,
        s,
        x,
        dy,
        dbias,
        kernel,
        scratch: scratch(ctx, s, &plans),
    };
    let mut launches = Vec::new();
    for plan in &plans {
        launches.push(pass.launch(plan));
        if let Some(reduce) = pass.reduce(plan) {
            launches.push(reduce);
        }
    }
    Ok(launches)
}

/// Checks the shapes of [`backward_weight`]'s tensors and a non-empty batch; returns
/// dbias's one buffer.
fn check_shapes<'a>(
    s: &ConvShape,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    dbias: &'a Tensor,
) -> Result<&'a wgpu::Buffer> {
    const OP: &str = "conv2d backward weight";
    s.validate(OP)?;
    x.expect_shape(OP, "input", &s.input())?;
    dy.expect_shape(OP, "output gradient", &s.output())?;
    dweight.expect_shape(OP, "weight gradient", &s.weight())?;
    dbias.expect_shape(OP, "bias gradient", &[s.out_channels])?;
    let dbias_buffer = dbias.single_chunk(OP)?;
    if s.batch == 0 {
        return Err(Error::Shape {
            op: OP,
            message: "an empty batch has no gradient to sum".to_string(),
        });
    }
    Ok(dbias_buffer)
}

/// One launch's share of the work: a dw chunk, a row piece of (x, dy), how its rows
/// are split, and whether it adds to dw and db or writes them.
struct PiecePlan<'a> {
    w_chunk: &'a Chunk,
    piece: &'a RowPiece,
    split: RowSplit,
    accumulate: bool,
}

/// Every weight chunk × row piece, in launch order; the first piece writes unless `add`.
fn plan_pieces<'a>(
    ctx: &GpuContext,
    s: &ConvShape,
    kernel: WeightKernel,
    pieces: &'a [RowPiece],
    dweight: &'a Tensor,
    add: bool,
) -> Vec<PiecePlan<'a>> {
    let kk = s.kernel * s.kernel;
    let scratch_limit = ctx.binding_limit.min(WEIGHT_GRAD_SCRATCH_BYTES);
    let mut plans = Vec::new();
    for w_chunk in &dweight.chunks {
        for (i, piece) in pieces.iter().enumerate() {
            let partial_bytes = (w_chunk.rows.len() * s.in_channels * kk * 4) as u64;
            let split = RowSplit::new(
                piece.rows.len() * s.out_h(),
                s.out_w(),
                kernel.invocations(s, w_chunk.rows.len()),
                kernel.wanted_invocations(),
                scratch_limit / partial_bytes.max(1),
            );
            plans.push(PiecePlan {
                w_chunk,
                piece,
                split,
                accumulate: add || i > 0,
            });
        }
    }
    plans
}

/// Scratch buffers (dweight, dbias partial sums) large enough for every split piece;
/// none when no piece is split.
fn scratch(
    ctx: &GpuContext,
    s: &ConvShape,
    plans: &[PiecePlan],
) -> Option<(wgpu::Buffer, wgpu::Buffer)> {
    let scratch_len = |per_part: fn(&ConvShape, usize) -> usize| {
        let split_plans = plans.iter().filter(|p| p.split.parts > 1);
        let elements = split_plans.map(|p| p.split.parts * per_part(s, p.w_chunk.rows.len()));
        (elements.max().unwrap_or(0) * 4) as u64
    };
    let (dw_bytes, db_bytes) = (
        scratch_len(|s, o| o * s.in_channels * s.kernel * s.kernel),
        scratch_len(|_, o| o),
    );
    (dw_bytes > 0).then(|| {
        (
            new_storage_buffer(ctx, "conv dweight partial sums", dw_bytes),
            new_storage_buffer(ctx, "conv dbias partial sums", db_bytes),
        )
    })
}

/// What every launch of one weight-gradient pass shares.
struct Pass<'a> {
    ctx: &'a GpuContext,
    s: &'a ConvShape,
    /// (N, C, H, W)
    x: &'a Tensor,
    /// (N, O, OH, OW)
    dy: &'a Tensor,
    /// (O)
    dbias: &'a wgpu::Buffer,
    kernel: WeightKernel,
    /// (dweight, dbias) partial sums of split pieces.
    scratch: Option<(wgpu::Buffer, wgpu::Buffer)>,
}

impl Pass<'_> {
    /// The weight-gradient launch of one piece.
    fn launch(&self, plan: &PiecePlan) -> Launch {
        let (ctx, s, w_chunk, piece) = (self.ctx, self.s, plan.w_chunk, plan.piece);
        let mut params = ConvParams::new(s, piece.rows.len());
        params.o_begin = w_chunk.rows.start as u32;
        params.o_count = w_chunk.rows.len() as u32;
        params.x_offset = element_offset(piece.local_row[0], self.x.row_len());
        params.y_offset = element_offset(piece.local_row[1], self.dy.row_len());
        params.parts = plan.split.parts as u32;
        params.rows_per_part = plan.split.rows_per_part as u32;
        // Unsplit: write (or add to) dw and db directly. Split: partial sums into the
        // scratch buffers, then a reduce launch writes or adds.
        let (dw_out, db_out) = match &self.scratch {
            Some((dw_part, db_part)) if plan.split.parts > 1 => (dw_part, db_part),
            _ => {
                params.accumulate = plan.accumulate as u32;
                params.db_base = w_chunk.rows.start as u32;
                (&w_chunk.buffer, self.dbias)
            }
        };
        let (shader, entry, constants) = self.kernel.shader(s);
        Launch::with_constants(
            ctx,
            shader,
            entry,
            &constants,
            &[
                &uniform(ctx, "conv params", &params),
                &self.x.chunks[piece.chunk[0]].buffer,
                &self.dy.chunks[piece.chunk[1]].buffer,
                dw_out,
                db_out,
            ],
            self.kernel.invocations(s, w_chunk.rows.len()) * plan.split.parts,
        )
    }

    /// The launch that sums a split piece's partial sums into dw and db; none when the
    /// piece is not split.
    fn reduce(&self, plan: &PiecePlan) -> Option<Launch> {
        let (dw_part, db_part) = self.scratch.as_ref().filter(|_| plan.split.parts > 1)?;
        let (ctx, s, w_chunk) = (self.ctx, self.s, plan.w_chunk);
        let weights = w_chunk.rows.len() * s.in_channels * s.kernel * s.kernel;
        let reduce = ReduceParams {
            weights: weights as u32,
            biases: w_chunk.rows.len() as u32,
            parts: plan.split.parts as u32,
            o_begin: w_chunk.rows.start as u32,
            accumulate: plan.accumulate as u32,
            _pad: [0; 3],
        };
        Some(Launch::new(
            ctx,
            &BACKWARD_WEIGHT_REDUCE,
            "conv2d_backward_weight_reduce",
            &[
                &uniform(ctx, "conv reduce params", &reduce),
                dw_part,
                db_part,
                &w_chunk.buffer,
                self.dbias,
            ],
            weights + w_chunk.rows.len(),
        ))
    }
}

/// Mirrors `ReduceParams` in `conv2d_backward_weight_reduce.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    weights: u32,
    biases: u32,
    parts: u32,
    o_begin: u32,
    accumulate: u32,
    _pad: [u32; 3],
}

/// The parameter structs of this pass, for the check against the WGSL structs they
/// mirror (see [`crate::kernels::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![
        uniform_layout!(
            ConvParams,
            "prelude.wgsl",
            "ConvParams",
            [
                batch,
                in_channels,
                in_h,
                in_w,
                out_channels,
                out_h,
                out_w,
                kernel,
                pad,
                relu,
                o_begin,
                o_count,
                x_offset,
                y_offset,
                accumulate,
                parts,
                rows_per_part,
                db_base
            ]
        ),
        uniform_layout!(
            ReduceParams,
            "conv2d_backward_weight_reduce.wgsl",
            "ReduceParams",
            [weights, biases, parts, o_begin, accumulate]
        ),
    ]
}
