//! Fully connected layer launchers: `shaders/linear.wgsl`, `linear_lanes.wgsl` and
//! `linear_subgroup.wgsl` (whose forward pass reads f32 weights only: an f16 weight runs
//! the others). Oracle: `src/oracle/linear.rs`.
//!
//! # Shapes
//! x (N, K), weight (O, K) (PyTorch's [out, in] layout), bias (O), y (N, O);
//! dx like x, dy like y, dweight like weight, dbias like bias.
//! Activations may be chunked along N, the weight along O (VGG's fc6 weight is
//! 411 MB); the bias must fit one binding.

use super::layout::{uniform_layout, UniformLayout};
use super::widen::{widen_halves, widened_bytes};
use super::{element_offset, shader, uniform, weights_f16, Launch, Shader};
use crate::error::Result;
use crate::gpu::{row_pieces, Chunk, Storage, Tensor};
use crate::kernels::GpuContext;
use crate::shape::LinearShape;

const LINEAR: Shader = shader!("linear.wgsl");
const LINEAR_LANES: Shader = shader!("linear_lanes.wgsl");
const LINEAR_SUBGROUP: Shader = shader!("linear_subgroup.wgsl");

/// Whether `linear_subgroup.wgsl` can run a dispatch: subgroups of 8 or more and rows
/// read as vec4 (K a multiple of 4).
fn subgroup_path(ctx: &GpuContext, s: &LinearShape) -> bool {
    ctx.settings.subgroups && s.in_features.is_multiple_of(4)
}

/// Whether `linear_lanes.wgsl` runs a forward dispatch on a piece of `rows` rows: where
/// the settings call for it (SwiftShader) and no subgroup kernel runs, on one row (it was
/// no faster than `linear.wgsl` on more), with K a multiple of 4 (of 8 for a weight stored
/// as f16, read a word of two inputs at a time).
fn lanes_path(ctx: &GpuContext, s: &LinearShape, rows: usize, storage: Storage) -> bool {
    let k_step = match storage {
        Storage::F32 => 4,
        Storage::F16 => 8,
    };
    ctx.settings.linear_lanes
        && !subgroup_path(ctx, s)
        && rows == 1
        && s.in_features.is_multiple_of(k_step)
}

/// Whether the backward products of `linear_subgroup.wgsl` can read dy's columns of the
/// weight chunk holding outputs `o` as vec4: O and the chunk's first output multiples
/// of 4.
fn dy_columns_aligned(s: &LinearShape, o: &std::ops::Range<usize>) -> bool {
    s.out_features.is_multiple_of(4) && o.start.is_multiple_of(4)
}

/// Mirrors `LinearParams` in `shaders/prelude.wgsl` (both linear shaders).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LinearParams {
    rows: u32,
    in_features: u32,
    out_features: u32,
    o_begin: u32,
    o_count: u32,
    relu: u32,
    accumulate: u32,
    x_offset: u32,
    y_offset: u32,
    _pad: [u32; 3],
}

impl LinearParams {
    fn new(s: &LinearShape, rows: usize) -> LinearParams {
        LinearParams {
            rows: rows as u32,
            in_features: s.in_features as u32,
            out_features: s.out_features as u32,
            o_begin: 0,
            o_count: s.out_features as u32,
            relu: 0,
            accumulate: 0,
            x_offset: 0,
            y_offset: 0,
            _pad: [0; 3],
        }
    }
}

/// y = x·weightᵀ + bias, then ReLU when `relu`.
///
/// # Shapes
/// x (N, K), weight (O, K), bias (O), y (N, O).
///
/// One launch per (row piece of x and y) × (weight chunk); each writes the chunk's
/// columns of y.
pub fn linear_forward(
    ctx: &GpuContext,
    s: &LinearShape,
    relu: bool,
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    y: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "linear forward";
    s.validate(OP)?;
    x.expect_shape(OP, "input", &s.input())?;
    weight.expect_shape(OP, "weight", &s.weight())?;
    bias.expect_shape(OP, "bias", &[s.out_features])?;
    y.expect_shape(OP, "output", &s.output())?;
    let bias_buffer = bias.single_chunk(OP)?;

    let mut launches = Vec::new();
    for piece in row_pieces(&[x, y]) {
        for w_chunk in &weight.chunks {
            let mut params = LinearParams::new(s, piece.rows.len());
            params.relu = relu as u32;
            params.o_begin = w_chunk.rows.start as u32;
            params.o_count = w_chunk.rows.len() as u32;
            params.x_offset = element_offset(piece.local_row[0], x.row_len());
            params.y_offset = element_offset(piece.local_row[1], y.row_len());
            let (rows, outputs) = (piece.rows.len(), w_chunk.rows.len());
            let (x_buffer, y_buffer) = (
                &x.chunks[piece.chunk[0]].buffer,
                &y.chunks[piece.chunk[1]].buffer,
            );
            // The subgroup kernel reads f32 weights only.
            let f16 = weight.storage == Storage::F16;
            if f16 && ctx.settings.widen_f16_weights && rows > 4 {
                let buffers = (x_buffer, bias_buffer, y_buffer);
                if let Some(widened) = widened_forward(ctx, s, params, w_chunk, buffers) {
                    launches.extend(widened);
                    continue;
                }
            }
            let (shader, entry, invocations) = if subgroup_path(ctx, s) && !f16 {
                // Workgroups of 8 rows × 64 invocations of 4 outputs.
                let invocations = rows.div_ceil(8) * outputs.div_ceil(256) * 64;
                (&LINEAR_SUBGROUP, "linear_forward_subgroup", invocations)
            } else if lanes_path(ctx, s, rows, weight.storage) {
                // Quads of 4 invocations on 8 outputs.
                (
                    &LINEAR_LANES,
                    "linear_forward_lanes",
                    outputs.div_ceil(8) * 4,
                )
            } else {
                let invocations = rows.div_ceil(4) * outputs.div_ceil(4);
                (&LINEAR, "linear_forward", invocations)
            };
            launches.push(Launch::with_constants(
                ctx,
                shader,
                entry,
                &[weights_f16(weight.storage)],
                &[
                    &uniform(ctx, "linear params", &params),
                    x_buffer,
                    &w_chunk.buffer,
                    bias_buffer,
                    y_buffer,
                ],
                invocations,
            ));
        }
    }
    Ok(launches)
}

/// Most bytes of f32 weights widened at a time by [`widened_forward`]: VGG-16's FC1 in
/// 13 pieces of 332 outputs.
const WIDEN_BYTES: u64 = 32 << 20;

/// `linear.wgsl` over an f16 weight chunk (the forward pass `params` describes), the
/// chunk widened into f32 a piece of outputs at a time into one scratch buffer (see
/// [`crate::kernels::settings::KernelSettings::widen_f16_weights`]): each half decoded
/// once, not once per tile of rows. The same sums as over the values stored as f32.
/// `None` where a piece would start inside a word (K odd, pieces of one output: only
/// under a binding limit of less than 4 rows of K f32).
fn widened_forward(
    ctx: &GpuContext,
    s: &LinearShape,
    params: LinearParams,
    w_chunk: &Chunk,
    (x, bias, y): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
) -> Option<Vec<Launch>> {
    let k = s.in_features;
    let fit = (WIDEN_BYTES.min(ctx.binding_limit) / (4 * k as u64)) as usize;
    // Whole tiles of 4 outputs where they fit (a row of K always does).
    let per_piece = if fit >= 4 { fit / 4 * 4 } else { fit.max(1) };
    if !(per_piece * k).is_multiple_of(2) {
        return None;
    }
    let scratch = ctx.scratch("f16 weights widened", widened_bytes(per_piece * k));
    let outputs = w_chunk.rows.len();
    let mut launches = Vec::new();
    for start in (0..outputs).step_by(per_piece) {
        let count = per_piece.min(outputs - start);
        launches.push(widen_halves(
            ctx,
            &w_chunk.buffer,
            start * k,
            count * k,
            &scratch,
        ));
        let piece = LinearParams {
            o_begin: params.o_begin + start as u32,
            o_count: count as u32,
            ..params
        };
        launches.push(Launch::new(
            ctx,
            &LINEAR,
            "linear_forward",
            &[&uniform(ctx, "linear params", &piece), x, &scratch, bias, y],
            (params.rows as usize).div_ceil(4) * count.div_ceil(4),
        ));
    }
    Some(launches)
}

/// dx = dy·weight, the gradient of the input (dy is the gradient of the output before
/// any ReLU: the ReLU backward is a separate op).
///
/// # Shapes
/// dy (N, O), weight (O, K), dx (N, K).
///
/// One launch per (row piece of dy and dx) × (weight chunk): the first chunk writes dx,
/// the later ones add to it.
pub fn linear_backward_data(
    ctx: &GpuContext,
    s: &LinearShape,
    dy: &Tensor,
    weight: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "linear backward data";
    s.validate(OP)?;
    dy.expect_shape(OP, "output gradient", &s.output())?;
    weight.expect_shape(OP, "weight", &s.weight())?;
    weight.expect_f32(OP, "weight")?;
    dx.expect_shape(OP, "input gradient", &s.input())?;

    let mut launches = Vec::new();
    for piece in row_pieces(&[dx, dy]) {
        for (i, w_chunk) in weight.chunks.iter().enumerate() {
            let mut params = LinearParams::new(s, piece.rows.len());
            params.o_begin = w_chunk.rows.start as u32;
            params.o_count = w_chunk.rows.len() as u32;
            params.accumulate = (i > 0) as u32;
            params.x_offset = element_offset(piece.local_row[0], dx.row_len());
            params.y_offset = element_offset(piece.local_row[1], dy.row_len());
            let (shader, entry, invocations) = match subgroup_path(ctx, s)
                && dy_columns_aligned(s, &w_chunk.rows)
                && w_chunk.rows.len().is_multiple_of(4)
            {
                // Workgroups of 8 rows × 64 invocations of 4 features.
                true => (
                    &LINEAR_SUBGROUP,
                    "linear_backward_data_subgroup",
                    piece.rows.len().div_ceil(8) * (s.in_features / 4).div_ceil(64) * 64,
                ),
                false => (
                    &LINEAR,
                    "linear_backward_data",
                    piece.rows.len().div_ceil(4) * s.in_features.div_ceil(4),
                ),
            };
            launches.push(Launch::new(
                ctx,
                shader,
                entry,
                &[
                    &uniform(ctx, "linear params", &params),
                    &dy.chunks[piece.chunk[1]].buffer,
                    &w_chunk.buffer,
                    &dx.chunks[piece.chunk[0]].buffer,
                ],
                invocations,
            ));
        }
    }
    Ok(launches)
}

/// dweight = dyᵀ·x and dbias = Σ_n dy, the parameter gradients, overwriting what
/// dweight and dbias held. [`linear_backward_weight_accumulate`] adds to it instead.
///
/// # Shapes
/// x (N, K), dy (N, O), dweight (O, K), dbias (O).
///
/// One launch per (weight chunk) × (row piece of x and dy): the first piece writes the
/// chunk, the later ones add to it; then one launch per row piece of dy for dbias.
pub fn linear_backward_weight(
    ctx: &GpuContext,
    s: &LinearShape,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    dbias: &Tensor,
) -> Result<Vec<Launch>> {
    backward_weight(ctx, s, x, dy, dweight, dbias, false)
}

/// dweight += dyᵀ·x and dbias += Σ_n dy: gradient accumulation over several batches
/// (scale the sum in the optimizer with `SgdHyper::grad_scale`).
///
/// # Shapes
/// x (N, K), dy (N, O), dweight (O, K), dbias (O).
pub fn linear_backward_weight_accumulate(
    ctx: &GpuContext,
    s: &LinearShape,
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
    s: &LinearShape,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    dbias: &Tensor,
    add: bool,
) -> Result<Vec<Launch>> {
    const OP: &str = "linear backward weight";
    s.validate(OP)?;
    x.expect_shape(OP, "input", &s.input())?;
    dy.expect_shape(OP, "output gradient", &s.output())?;
    dweight.expect_shape(OP, "weight gradient", &s.weight())?;
    dbias.expect_shape(OP, "bias gradient", &[s.out_features])?;
    let dbias_buffer = dbias.single_chunk(OP)?;

    let mut launches = Vec::new();
    let pieces = row_pieces(&[x, dy]);
    for w_chunk in &dweight.chunks {
        for (i, piece) in pieces.iter().enumerate() {
            let mut params = LinearParams::new(s, piece.rows.len());
            params.o_begin = w_chunk.rows.start as u32;
            params.o_count = w_chunk.rows.len() as u32;
            params.accumulate = (add || i > 0) as u32;
            params.x_offset = element_offset(piece.local_row[0], x.row_len());
            params.y_offset = element_offset(piece.local_row[1], dy.row_len());
            let (shader, entry, invocations) =
                match subgroup_path(ctx, s) && dy_columns_aligned(s, &w_chunk.rows) {
                    // Workgroups of 8 outputs × 64 invocations of 4 features.
                    true => (
                        &LINEAR_SUBGROUP,
                        "linear_backward_weight_subgroup",
                        w_chunk.rows.len().div_ceil(8) * (s.in_features / 4).div_ceil(64) * 64,
                    ),
                    false => (
                        &LINEAR,
                        "linear_backward_weight",
                        w_chunk.rows.len().div_ceil(4) * s.in_features.div_ceil(4),
                    ),
                };
            launches.push(Launch::new(
                ctx,
                shader,
                entry,
                &[
                    &uniform(ctx, "linear params", &params),
                    &x.chunks[piece.chunk[0]].buffer,
                    &dy.chunks[piece.chunk[1]].buffer,
                    &w_chunk.buffer,
                ],
                invocations,
            ));
        }
    }
    for (i, piece) in row_pieces(&[dy]).iter().enumerate() {
        let mut params = LinearParams::new(s, piece.rows.len());
        params.accumulate = (add || i > 0) as u32;
        params.y_offset = element_offset(piece.local_row[0], dy.row_len());
        launches.push(Launch::new(
            ctx,
            &LINEAR,
            "linear_backward_bias",
            &[
                &uniform(ctx, "linear params", &params),
                &dy.chunks[piece.chunk[0]].buffer,
                dbias_buffer,
            ],
            s.out_features,
        ));
    }
    Ok(launches)
}

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        LinearParams,
        "prelude.wgsl",
        "LinearParams",
        [
            rows,
            in_features,
            out_features,
            o_begin,
            o_count,
            relu,
            accumulate,
            x_offset,
            y_offset
        ]
    )]
}
