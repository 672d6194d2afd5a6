//! Conv2d launchers: `shaders/conv2d_*.wgsl`. Oracle: `src/oracle/conv.rs`.
//!
//! # Shapes
//! x (N, C, H, W), weight (O, C, K, K), bias (O), y (N, O, OH, OW), stride 1,
//! OH = H + 2·pad − K + 1. Activations may be chunked along N, the weight along O.

use bytemuck::Zeroable;

use super::layout::{uniform_layout, UniformLayout};
#[cfg(not(target_arch = "wasm32"))]
use super::tune;
use super::{element_offset, shader, uniform, Launch, Shader, WORKGROUP_SIZE};
use crate::error::{Error, Result};
use crate::gpu::tensor::new_storage_buffer;
use crate::gpu::{row_pieces, GpuContext, Tensor};
use crate::shape::ConvShape;

const CONVOLVE: Shader = shader!("conv2d.wgsl");
const SUBGROUP: Shader = shader!("conv2d_subgroup.wgsl");
const BACKWARD_WEIGHT: Shader = shader!("conv2d_backward_weight.wgsl");
const BACKWARD_WEIGHT_SUBGROUP: Shader = shader!("conv2d_backward_weight_subgroup.wgsl");
const BACKWARD_WEIGHT_REDUCE: Shader = shader!("conv2d_backward_weight_reduce.wgsl");

/// The weight-gradient pass splits its reduction over the N·OH rows of dy into parts
/// until tiles × parts reach this many invocations (big images with few channels would
/// otherwise leave most of the device idle)...
const WEIGHT_GRAD_INVOCATIONS: usize = 16384;
/// ...as long as the partial sums fit this many bytes (and one storage binding)...
const WEIGHT_GRAD_SCRATCH_BYTES: u64 = 32 << 20;
/// ...and each part still sums at least this many output pixels: below that, writing
/// and re-reading the partial sums costs more than the parallelism gains (measured on
/// lavapipe: VGG-A ÷8 at 32×32, batch 32, the 2×2 layer took 32 ms split into 42 parts
/// of 2 rows).
const WEIGHT_GRAD_MIN_PIXELS_PER_PART: usize = 512;

/// Mirrors `ConvParams` in `shaders/prelude.wgsl` (the weight-gradient shaders).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
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
    fn new(s: &ConvShape, batch: usize) -> ConvParams {
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

/// Mirrors `ConvolveParams` in `shaders/prelude.wgsl`: forward and input gradient as one
/// convolution of a source s into a target t (see the headers of `conv2d.wgsl` and
/// `conv2d_subgroup.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvolveParams {
    batch: u32,
    s_count: u32,
    s_h: u32,
    s_w: u32,
    t_count: u32,
    t_h: u32,
    t_w: u32,
    kernel: u32,
    /// May be negative for the input gradient (K − 1 − pad).
    pad: i32,
    relu: u32,
    accumulate: u32,
    has_bias: u32,
    s_channels: u32,
    s0: u32,
    t_channels: u32,
    t0: u32,
    s_offset: u32,
    t_offset: u32,
    w_t_stride: u32,
    w_s_stride: u32,
    flip: u32,
    _pad: [u32; 3],
}

impl ConvolveParams {
    /// y = conv(x, w) for the output channels `o` of a weight chunk, batch `batch`.
    fn forward(s: &ConvShape, batch: usize, o: std::ops::Range<usize>) -> ConvolveParams {
        let kk = s.kernel * s.kernel;
        ConvolveParams {
            batch: batch as u32,
            s_count: s.in_channels as u32,
            s_h: s.in_h as u32,
            s_w: s.in_w as u32,
            t_count: o.len() as u32,
            t_h: s.out_h() as u32,
            t_w: s.out_w() as u32,
            kernel: s.kernel as u32,
            pad: s.pad as i32,
            s_channels: s.in_channels as u32,
            t_channels: s.out_channels as u32,
            t0: o.start as u32,
            w_t_stride: (s.in_channels * kk) as u32,
            w_s_stride: kk as u32,
            ..Zeroable::zeroed()
        }
    }

    /// dx = the sum over the output channels `o` of a weight chunk of dy convolved with
    /// the flipped, transposed weight, batch `batch`.
    fn backward_data(s: &ConvShape, batch: usize, o: std::ops::Range<usize>) -> ConvolveParams {
        let kk = s.kernel * s.kernel;
        ConvolveParams {
            batch: batch as u32,
            s_count: o.len() as u32,
            s_h: s.out_h() as u32,
            s_w: s.out_w() as u32,
            t_count: s.in_channels as u32,
            t_h: s.in_h as u32,
            t_w: s.in_w as u32,
            kernel: s.kernel as u32,
            pad: s.kernel as i32 - 1 - s.pad as i32,
            s_channels: s.out_channels as u32,
            s0: o.start as u32,
            t_channels: s.in_channels as u32,
            w_t_stride: kk as u32,
            w_s_stride: (s.in_channels * kk) as u32,
            flip: 1,
            ..Zeroable::zeroed()
        }
    }

    /// The tile shape (rows, target channels): `KernelSettings::conv_tile`, or
    /// `VGG_WGPU_CONV_ROWS` (1 or 2) and
    /// `VGG_WGPU_CONV_TILE_T` (16 or 32) fix them; otherwise the autotuner picks among
    /// the shapes that fit (see [`super::tune`]), by default 2 rows × 4 columns for
    /// targets at most 4 columns wide and 32 channels when there are that many.
    fn tile(&self, ctx: &GpuContext) -> (u32, u32) {
        if let Some(tile) = ctx.kernel_settings.conv_tile {
            return tile;
        }
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        let mut candidates = Vec::new();
        for rows in [1, 2] {
            for tile_t in [16, 32] {
                let fixed = |name, v| env(name).is_none_or(|f| f == v);
                if fixed("VGG_WGPU_CONV_ROWS", rows)
                    && fixed("VGG_WGPU_CONV_TILE_T", tile_t)
                    && (rows == 1 || self.t_h > 1)
                    && (tile_t == 16 || self.t_count > 16)
                {
                    candidates.push((rows, tile_t));
                }
            }
        }
        let default_rows = if self.t_w <= 4 { 2 } else { 1 };
        let default_t = if self.t_count >= 32 { 32 } else { 16 };
        let default = candidates
            .iter()
            .position(|&c| c == (default_rows, default_t))
            .unwrap_or(0);
        let Some(&fallback) = candidates.get(default) else {
            // Fixed to a shape that does not fit: take it as given.
            return (
                env("VGG_WGPU_CONV_ROWS").unwrap_or(default_rows),
                env("VGG_WGPU_CONV_TILE_T").unwrap_or(default_t),
            );
        };
        if candidates.len() < 2 || cfg!(target_arch = "wasm32") {
            return fallback;
        }
        self.tuned(ctx, &candidates, default)
    }

    /// The autotuner's choice among `candidates` (rows, target channels) for this
    /// problem's class, `default` when it cannot measure.
    #[cfg(not(target_arch = "wasm32"))]
    fn tuned(&self, ctx: &GpuContext, candidates: &[(u32, u32)], default: usize) -> (u32, u32) {
        let constants: Vec<tune::Constants> = candidates
            .iter()
            .map(|&(r, t)| vec![("ROWS", r as f64), ("TILE_T", t as f64)])
            .collect();
        let class = format!(
            "conv2d k{} source channels {} target {}×{}×{}",
            self.kernel,
            match self.s_count {
                0..=8 => "≤8",
                9..=32 => "≤32",
                _ => ">32",
            },
            self.t_count,
            self.t_h.min(8),
            self.t_w
        );
        let proxy = self.proxy(ctx);
        let index = tune::choose(ctx, &SUBGROUP, &class, &constants, default, |c| {
            proxy.seconds(ctx, c)
        });
        candidates[index]
    }

    /// No autotuning in the browser (no blocking waits to time with).
    #[cfg(target_arch = "wasm32")]
    fn tuned(&self, _: &GpuContext, candidates: &[(u32, u32)], default: usize) -> (u32, u32) {
        candidates[default]
    }

    /// A smaller problem of the same class for the autotuner to time: about 1024 target
    /// pixels, at most 32 source channels, the same widths and channel counts.
    #[cfg(not(target_arch = "wasm32"))]
    fn proxy(&self, ctx: &GpuContext) -> Proxy {
        let kk = self.kernel * self.kernel;
        let t_h = self.t_h.min(1024u32.div_ceil(self.t_w)).max(1);
        let batch = self.batch.min(1024u32.div_ceil(t_h * self.t_w)).max(1);
        let s_count = self.s_count.min(32);
        let s_h = self.s_h.min(t_h + self.kernel);
        let params = ConvolveParams {
            batch,
            s_count,
            s_h,
            t_h,
            accumulate: 0,
            has_bias: 1,
            s_channels: s_count,
            s0: 0,
            t_channels: self.t_count,
            t0: 0,
            s_offset: 0,
            t_offset: 0,
            w_t_stride: s_count * kk,
            w_s_stride: kk,
            ..*self
        };
        let buffer =
            |label, elements: u32| new_storage_buffer(ctx, label, (elements.max(1) as u64) * 4);
        Proxy {
            source: buffer("tuning source", batch * s_count * s_h * self.s_w),
            weight: buffer("tuning weight", self.t_count * s_count * kk),
            bias: buffer("tuning bias", self.t_count),
            target: buffer("tuning target", batch * self.t_count * t_h * self.t_w),
            params,
        }
    }

    /// One dispatch of the subgroup kernel where the device may use it, else of the
    /// fallback kernel.
    fn launch(
        &self,
        ctx: &GpuContext,
        op: &'static str,
        source: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Result<Launch> {
        if !ctx.kernel_settings.subgroups {
            return self.launch_fallback(ctx, op, source, weight, bias, target);
        }
        let (rows, tile_t) = self.tile(ctx);
        Ok(self.launch_with(ctx, rows, tile_t, source, weight, bias, target))
    }

    /// One dispatch of `conv2d.wgsl`: one invocation per 8 target channels × TILE_H rows
    /// × 8 columns.
    fn launch_fallback(
        &self,
        ctx: &GpuContext,
        op: &'static str,
        source: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Result<Launch> {
        let rows = tile_rows(ctx, op)?;
        let tiles = self.batch as usize
            * (self.t_count as usize).div_ceil(8)
            * (self.t_h as usize).div_ceil(rows as usize)
            * (self.t_w as usize).div_ceil(8);
        Ok(Launch::with_constants(
            ctx,
            &CONVOLVE,
            "conv2d",
            &[("TILE_H", rows as f64)],
            &[
                &uniform(ctx, "conv params", self),
                source,
                weight,
                bias,
                target,
            ],
            tiles,
        ))
    }

    /// One dispatch of `conv2d_subgroup.wgsl` with a given tile shape: workgroups of
    /// WORKGROUP_SIZE tiles (1 row × 8 columns, or 2 rows × 4 columns) × blocks of 16 or
    /// 32 target channels, as [`ConvolveParams::tile`] chooses.
    #[allow(clippy::too_many_arguments)]
    fn launch_with(
        &self,
        ctx: &GpuContext,
        rows: u32,
        tile_t: u32,
        source: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Launch {
        let tiles = (self.batch * self.t_h.div_ceil(rows) * self.t_w.div_ceil(8 / rows)) as usize;
        let share = share_width(ctx);
        let units = tiles.div_ceil(share) * (self.t_count as usize).div_ceil(tile_t as usize);
        let group = WORKGROUP_SIZE as usize;
        let workgroups = units.div_ceil(group / share);
        Launch::with_constants(
            ctx,
            &SUBGROUP,
            "conv2d_subgroup",
            &[
                ("ROWS", rows as f64),
                ("TILE_T", tile_t as f64),
                ("SHARE", share as f64),
                (
                    "KERNEL",
                    if self.kernel <= 7 {
                        self.kernel as f64
                    } else {
                        0.0
                    },
                ),
            ],
            &[
                &uniform(ctx, "conv params", self),
                source,
                weight,
                bias,
                target,
            ],
            workgroups * group,
        )
    }
}

/// How many consecutive invocations of the subgroup conv kernel share one block of
/// target channels: the adapter's largest subgroup rounded up to a power of two, at
/// least 8 and at most a workgroup.
fn share_width(ctx: &GpuContext) -> usize {
    (ctx.adapter_info.subgroup_max_size as usize)
        .max(8)
        .next_power_of_two()
        .min(WORKGROUP_SIZE as usize)
}

/// Buffers and parameters of a problem the autotuner times.
#[cfg(not(target_arch = "wasm32"))]
struct Proxy {
    params: ConvolveParams,
    source: wgpu::Buffer,
    weight: wgpu::Buffer,
    bias: wgpu::Buffer,
    target: wgpu::Buffer,
}

#[cfg(not(target_arch = "wasm32"))]
impl Proxy {
    /// Wall-clock seconds of one run with the tile shape in `constants`.
    fn seconds(&self, ctx: &GpuContext, constants: &tune::Constants) -> Option<f64> {
        {
            let value = |name| {
                constants
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|c| c.1 as u32)
            };
            let launch = self.params.launch_with(
                ctx,
                value("ROWS")?,
                value("TILE_T")?,
                &self.source,
                &self.weight,
                &self.bias,
                &self.target,
            );
            let run = || {
                super::submit(ctx, std::slice::from_ref(&launch));
                crate::gpu::readback::wait_for_queue(ctx).ok()
            };
            let start = std::time::Instant::now();
            run()?;
            Some(start.elapsed().as_secs_f64())
        }
    }
}

/// The device's fallback conv tile height, which the shader supports only as 1 or 2.
fn tile_rows(ctx: &GpuContext, op: &'static str) -> Result<u32> {
    match ctx.kernel_settings.conv_tile_rows {
        rows @ (1 | 2) => Ok(rows),
        rows => Err(Error::InvalidArgument {
            op,
            message: format!("conv_tile_rows is {rows}; the shaders take 1 or 2"),
        }),
    }
}

/// y = conv(x, weight) + bias, then ReLU when `relu`.
pub fn conv2d_forward(
    ctx: &GpuContext,
    s: &ConvShape,
    relu: bool,
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    y: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "conv2d forward";
    s.validate(OP)?;
    x.expect_shape(OP, "input", &s.input())?;
    weight.expect_shape(OP, "weight", &s.weight())?;
    bias.expect_shape(OP, "bias", &[s.out_channels])?;
    y.expect_shape(OP, "output", &s.output())?;
    let bias_buffer = bias.single_chunk(OP)?;

    let mut launches = Vec::new();
    for piece in row_pieces(&[x, y]) {
        for w_chunk in &weight.chunks {
            let params = ConvolveParams {
                relu: relu as u32,
                has_bias: 1,
                s_offset: element_offset(piece.local_row[0], x.row_len()),
                t_offset: element_offset(piece.local_row[1], y.row_len()),
                ..ConvolveParams::forward(s, piece.rows.len(), w_chunk.rows.clone())
            };
            launches.push(params.launch(
                ctx,
                OP,
                &x.chunks[piece.chunk[0]].buffer,
                &w_chunk.buffer,
                bias_buffer,
                &y.chunks[piece.chunk[1]].buffer,
            )?);
        }
    }
    Ok(launches)
}

/// dx = the gradient of the loss w.r.t. the convolution's input, given dy, the gradient
/// w.r.t. its output before any ReLU (a transposed convolution of dy with the weight).
///
/// # Shapes
/// dy (N, O, OH, OW), weight (O, C, K, K), dx (N, C, H, W); dy and dx may be chunked
/// along N, the weight along O. Over weight chunks the first writes dx, later ones add.
pub fn conv2d_backward_data(
    ctx: &GpuContext,
    s: &ConvShape,
    dy: &Tensor,
    weight: &Tensor,
    dx: &Tensor,
) -> Result<Vec<Launch>> {
    const OP: &str = "conv2d backward data";
    s.validate(OP)?;
    dy.expect_shape(OP, "output gradient", &s.output())?;
    weight.expect_shape(OP, "weight", &s.weight())?;
    dx.expect_shape(OP, "input gradient", &s.input())?;

    let mut launches = Vec::new();
    for piece in row_pieces(&[dy, dx]) {
        for (i, w_chunk) in weight.chunks.iter().enumerate() {
            let params = ConvolveParams {
                accumulate: (i > 0) as u32,
                s_offset: element_offset(piece.local_row[0], dy.row_len()),
                t_offset: element_offset(piece.local_row[1], dx.row_len()),
                ..ConvolveParams::backward_data(s, piece.rows.len(), w_chunk.rows.clone())
            };
            // No bias: the weight stands in for the unused binding.
            launches.push(params.launch(
                ctx,
                OP,
                &dy.chunks[piece.chunk[0]].buffer,
                &w_chunk.buffer,
                &w_chunk.buffer,
                &dx.chunks[piece.chunk[1]].buffer,
            )?);
        }
    }
    Ok(launches)
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

    // One launch (plus a reduce launch when its rows are split) per weight chunk and
    // row piece of (x, dy); the split of each is planned first to size the scratch.
    let pieces = row_pieces(&[x, dy]);
    let kk = s.kernel * s.kernel;
    let subgroups =
        ctx.kernel_settings.subgroups && subgroup_weight_tiles(s) >= SUBGROUP_WEIGHT_MIN_TILES;
    let group = WORKGROUP_SIZE as usize;
    let invocations = |o_count: usize| match subgroups {
        true => o_count.div_ceil(16) * subgroup_weight_tiles(s).div_ceil(group) * group,
        false => weight_grad_tiles(s, o_count),
    };
    let scratch_limit = ctx.binding_limit.min(WEIGHT_GRAD_SCRATCH_BYTES);
    let mut plans = Vec::new();
    for w_chunk in &dweight.chunks {
        for (i, piece) in pieces.iter().enumerate() {
            let partial_bytes = (w_chunk.rows.len() * s.in_channels * kk * 4) as u64;
            let split = RowSplit::new(
                piece.rows.len() * s.out_h(),
                s.out_w(),
                invocations(w_chunk.rows.len()),
                scratch_limit / partial_bytes.max(1),
            );
            plans.push((w_chunk, piece, split, add || i > 0));
        }
    }
    let scratch_len = |per_part: fn(&ConvShape, usize) -> usize| {
        let split_plans = plans.iter().filter(|(_, _, split, _)| split.parts > 1);
        let elements = split_plans.map(|(c, _, split, _)| split.parts * per_part(s, c.rows.len()));
        (elements.max().unwrap_or(0) * 4) as u64
    };
    let (dw_bytes, db_bytes) = (
        scratch_len(|s, o| o * s.in_channels * s.kernel * s.kernel),
        scratch_len(|_, o| o),
    );
    let scratch = (dw_bytes > 0).then(|| {
        (
            new_storage_buffer(ctx, "conv dweight partial sums", dw_bytes),
            new_storage_buffer(ctx, "conv dbias partial sums", db_bytes),
        )
    });

    let mut launches = Vec::new();
    for (w_chunk, piece, split, accumulate) in plans {
        let mut params = ConvParams::new(s, piece.rows.len());
        params.o_begin = w_chunk.rows.start as u32;
        params.o_count = w_chunk.rows.len() as u32;
        params.x_offset = element_offset(piece.local_row[0], x.row_len());
        params.y_offset = element_offset(piece.local_row[1], dy.row_len());
        params.parts = split.parts as u32;
        params.rows_per_part = split.rows_per_part as u32;
        // Unsplit: write (or add to) dw and db directly. Split: partial sums into the
        // scratch buffers, then a reduce launch writes or adds.
        let (dw_out, db_out) = match &scratch {
            Some((dw_part, db_part)) if split.parts > 1 => (dw_part, db_part),
            _ => {
                params.accumulate = accumulate as u32;
                params.db_base = w_chunk.rows.start as u32;
                (&w_chunk.buffer, dbias_buffer)
            }
        };
        let (shader, entry, constants) = match subgroups {
            true => (
                &BACKWARD_WEIGHT_SUBGROUP,
                "conv2d_backward_weight_subgroup",
                vec![("UNROLL_COLUMNS", (s.out_w() >= 16) as u32 as f64)],
            ),
            false => (&BACKWARD_WEIGHT, "conv2d_backward_weight", vec![]),
        };
        launches.push(Launch::with_constants(
            ctx,
            shader,
            entry,
            &constants,
            &[
                &uniform(ctx, "conv params", &params),
                &x.chunks[piece.chunk[0]].buffer,
                &dy.chunks[piece.chunk[1]].buffer,
                dw_out,
                db_out,
            ],
            invocations(w_chunk.rows.len()) * split.parts,
        ));
        if let Some((dw_part, db_part)) = scratch.as_ref().filter(|_| split.parts > 1) {
            let weights = w_chunk.rows.len() * s.in_channels * kk;
            let reduce = ReduceParams {
                weights: weights as u32,
                biases: w_chunk.rows.len() as u32,
                parts: split.parts as u32,
                o_begin: w_chunk.rows.start as u32,
                accumulate: accumulate as u32,
                _pad: [0; 3],
            };
            launches.push(Launch::new(
                ctx,
                &BACKWARD_WEIGHT_REDUCE,
                "conv2d_backward_weight_reduce",
                &[
                    &uniform(ctx, "conv reduce params", &reduce),
                    dw_part,
                    db_part,
                    &w_chunk.buffer,
                    dbias_buffer,
                ],
                weights + w_chunk.rows.len(),
            ));
        }
    }
    Ok(launches)
}

/// Invocations of one part of the weight-gradient pass for a dw chunk of `o_count`
/// output channels: weight tiles of 8 output × 4 input channels × 3 kernel columns of
/// one kernel row, then one bias tile per 8 output channels (see the shader).
fn weight_grad_tiles(s: &ConvShape, o_count: usize) -> usize {
    let tiles_o = o_count.div_ceil(8);
    tiles_o * s.in_channels.div_ceil(4) * s.kernel * s.kernel.div_ceil(3) + tiles_o
}

/// Invocations per block of 16 output channels of the subgroup weight-gradient kernel
/// before rounding up to whole workgroups: 2 input channels × 3 kernel columns of one
/// kernel row each.
fn subgroup_weight_tiles(s: &ConvShape) -> usize {
    s.in_channels.div_ceil(2) * s.kernel * s.kernel.div_ceil(3)
}

/// Below this many invocations per block of output channels (a 3×3 conv with fewer
/// than 22 input channels, e.g. the first layer), the subgroup weight-gradient kernel
/// would leave over half of each 64-invocation workgroup idle: the other one runs.
const SUBGROUP_WEIGHT_MIN_TILES: usize = 32;

/// How the weight-gradient pass splits its `rows` (n, oh) of dy into parts.
#[derive(Clone, Copy, Debug)]
struct RowSplit {
    parts: usize,
    rows_per_part: usize,
}

impl RowSplit {
    /// Enough parts for `WEIGHT_GRAD_INVOCATIONS` with `tiles` invocations per part, at
    /// most `max_parts` (what the scratch holds), each part at least
    /// `WEIGHT_GRAD_MIN_PIXELS_PER_PART` pixels of rows `row_len` long.
    fn new(rows: usize, row_len: usize, tiles: usize, max_parts: u64) -> RowSplit {
        let wanted = WEIGHT_GRAD_INVOCATIONS.div_ceil(tiles.max(1));
        let min_rows = WEIGHT_GRAD_MIN_PIXELS_PER_PART.div_ceil(row_len.max(1));
        let parts = wanted.min(max_parts as usize).min(rows / min_rows).max(1);
        let rows_per_part = rows.div_ceil(parts).max(1);
        RowSplit {
            parts: rows.div_ceil(rows_per_part).max(1),
            rows_per_part,
        }
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

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
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
            ConvolveParams,
            "prelude.wgsl",
            "ConvolveParams",
            [
                batch, s_count, s_h, s_w, t_count, t_h, t_w, kernel, pad, relu, accumulate,
                has_bias, s_channels, s0, t_channels, t0, s_offset, t_offset, w_t_stride,
                w_s_stride, flip
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_gradient_of_a_large_image_is_split() {
        // The last shape of tests/kernels/conv.rs: 2 × 40 rows of 36 pixels, 8 ← 3 channels.
        let s = ConvShape {
            batch: 2,
            in_channels: 3,
            in_h: 40,
            in_w: 36,
            out_channels: 8,
            kernel: 3,
            pad: 1,
        };
        let split = RowSplit::new(
            s.batch * s.out_h(),
            s.out_w(),
            weight_grad_tiles(&s, 8),
            1 << 20,
        );
        assert!(split.parts > 1, "{split:?}");
        assert!(split.rows_per_part * s.out_w() >= WEIGHT_GRAD_MIN_PIXELS_PER_PART);
    }

    #[test]
    fn small_images_are_not_split() {
        // VGG-A ÷8's last layer at 32×32 input: 2×2 images, batch 32.
        let split = RowSplit::new(32 * 2, 2, 392, 1 << 20);
        assert_eq!(split.parts, 1);
    }
}
