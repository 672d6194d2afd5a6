//! Forward and input gradient: one convolution of a source into a target, run by
//! `shaders/conv2d_tiled.wgsl` on adapters that are not CPUs ([`tiled`]), by
//! `shaders/conv2d_subgroup.wgsl` where the device has subgroups, by
//! `shaders/conv2d_lanes.wgsl` on SwiftShader (see
//! [`crate::kernels::settings::KernelSettings::conv_lanes`]), else by
//! `shaders/conv2d.wgsl`; at inference on SwiftShader, 3×3 forward convolutions by
//! Winograd's F(4×4, 3×3) ([`winograd`]). Oracle: `conv2d_forward` and `conv2d_backward` in
//! `src/oracle/conv.rs`.

mod tiled;
mod winograd;

pub use tiled::TILE_GROUPS;

use bytemuck::Zeroable;

use crate::error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::tensor::new_storage_buffer;
use crate::gpu::{row_pieces, Storage, Tensor};
use crate::kernels::layout::{uniform_layout, UniformLayout};
#[cfg(not(target_arch = "wasm32"))]
use crate::kernels::tune;
use crate::kernels::GpuContext;
use crate::kernels::{
    element_offset, shader, uniform, weights_f16, Launch, Shader, WORKGROUP_SIZE,
};
use crate::shape::ConvShape;

const CONVOLVE: Shader = shader!("conv2d.wgsl");
const SUBGROUP: Shader = shader!("conv2d_subgroup.wgsl");
const LANES: Shader = shader!("conv2d_lanes.wgsl");
const LANES_PREPARE: Shader = shader!("conv2d_lanes_prepare.wgsl");

/// Fewest (sample, row, 8 columns) tiles for which `conv2d_lanes.wgsl` runs (see
/// `ConvolveParams::launch_lanes`).
const LANES_MIN_TILES: u64 = 4;

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
    /// the shapes that fit (see [`crate::kernels::tune`]), by default 2 rows × 4 columns for
    /// targets at most 4 columns wide. 32 channels are a candidate, and the default where
    /// there are that many, on CPU adapters only: on a GPU 256 accumulators overflow the
    /// registers (on an H200, 32 channels ran VGG-16's layers 3–7× slower than 16, and
    /// compiling them for the tuner doubled the first run's wait).
    fn tile(&self, ctx: &GpuContext) -> (u32, u32) {
        if let Some(tile) = ctx.settings.conv_tile {
            return tile;
        }
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        let cpu = ctx.adapter_info.device_type == wgpu::DeviceType::Cpu;
        let mut candidates = Vec::new();
        for rows in [1, 2] {
            for tile_t in [16, 32] {
                let fixed = |name, v| env(name).is_none_or(|f| f == v);
                if fixed("VGG_WGPU_CONV_ROWS", rows)
                    && fixed("VGG_WGPU_CONV_TILE_T", tile_t)
                    && (rows == 1 || self.t_h > 1)
                    && (tile_t == 16 || (self.t_count > 16 && cpu))
                {
                    candidates.push((rows, tile_t));
                }
            }
        }
        let default_rows = if self.t_w <= 4 { 2 } else { 1 };
        let default_t = if self.t_count >= 32 && cpu { 32 } else { 16 };
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
            tuning_width_class(self.t_w)
        );
        let proxy = self.proxy(ctx, 1024, 32);
        let index = tune::choose(ctx, &SUBGROUP, &class, &constants, default, |c| {
            let value = |name| c.iter().find(|(n, _)| *n == name).map(|c| c.1 as u32);
            let launch = proxy.params.launch_with(
                ctx,
                value("ROWS")?,
                value("TILE_T")?,
                &proxy.source,
                &proxy.weight,
                &proxy.bias,
                &proxy.target,
            );
            tune::seconds_of(ctx, &launch)
        });
        candidates[index]
    }

    /// No autotuning in the browser (no blocking waits to time with).
    #[cfg(target_arch = "wasm32")]
    fn tuned(&self, _: &GpuContext, candidates: &[(u32, u32)], default: usize) -> (u32, u32) {
        candidates[default]
    }

    /// A smaller problem of the same class for the autotuner to time: about `pixels`
    /// target pixels, at most `max_source` source channels, the same widths and channel
    /// counts.
    #[cfg(not(target_arch = "wasm32"))]
    fn proxy(&self, ctx: &GpuContext, pixels: u32, max_source: u32) -> Proxy {
        let kk = self.kernel * self.kernel;
        let t_h = self.t_h.min(pixels.div_ceil(self.t_w)).max(1);
        let batch = self.batch.min(pixels.div_ceil(t_h * self.t_w)).max(1);
        let s_count = self.s_count.min(max_source);
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

    /// The dispatches of the kernel the device's settings call for: Winograd's (where
    /// `use_` allows it and the settings call for it), else the tiled kernel on
    /// adapters that are not CPUs; on CPUs the subgroup kernel, or without subgroups, or
    /// for a weight stored as f16 (which the subgroup kernel does not read),
    /// SwiftShader's lanes kernel or the fallback kernel.
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &self,
        ctx: &GpuContext,
        op: &'static str,
        use_: ConvUse,
        source: &wgpu::Buffer,
        weight: (&wgpu::Buffer, Storage),
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Result<Vec<Launch>> {
        if !ctx.settings.subgroups || weight.1 == Storage::F16 || ctx.settings.conv_tiles {
            if use_ == ConvUse::Inference && ctx.settings.conv_winograd {
                if let Some(launches) = self.launch_winograd(ctx, source, weight, bias, target) {
                    return Ok(launches);
                }
            }
            if ctx.settings.conv_tiles {
                return Ok(vec![self.launch_tiled(ctx, source, weight, bias, target)]);
            }
            if ctx.settings.conv_lanes {
                if let Some(launches) = self.launch_lanes(ctx, source, weight, bias, target) {
                    return Ok(launches);
                }
            }
            return Ok(vec![
                self.launch_fallback(ctx, op, source, weight, bias, target)?
            ]);
        }
        let weight = weight.0;
        let (rows, tile_t) = self.tile(ctx);
        Ok(vec![self.launch_with(
            ctx, rows, tile_t, source, weight, bias, target,
        )])
    }

    /// The dispatches of `conv2d_lanes.wgsl`: the padded source copy and the filters in
    /// blocks of up to 32 target channels (`conv2d_lanes_prepare.wgsl`, into buffers of this
    /// the device's scratch buffers), then 4 invocations per 32 target channels × 1 row × 8 columns.
    /// `None` (the caller runs `conv2d.wgsl`) when a copy would exceed the binding
    /// limit, and, unless `KernelSettings::conv_ignore_speed_rules` is set, where
    /// `conv2d.wgsl` is the better choice: where each filter value would be used by
    /// fewer than [`LANES_MIN_TILES`] tiles (the fully connected layers of dense
    /// evaluation on small maps: the filter copy costs as much as the convolution
    /// saves, and holds a second copy of a large weight), or where the 32-channel
    /// blocks would compute over 1.25× the target channels of conv2d.wgsl's 8-channel
    /// blocks (the input gradient of the first layer, 3 channels: measured 5× slower
    /// than conv2d.wgsl).
    fn launch_lanes(
        &self,
        ctx: &GpuContext,
        source: &wgpu::Buffer,
        (weight, storage): (&wgpu::Buffer, Storage),
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Option<Vec<Launch>> {
        let tiles_x = self.t_w.div_ceil(8) as u64;
        let tiles = self.batch as u64 * self.t_h as u64 * tiles_x;
        let blocks_t = self.t_count.div_ceil(32) as u64;
        let kernel = self.kernel as u64;
        let row4 = 2 * tiles_x + 1 + (kernel - 1) / 4; // lanes_padded_width / 4
        let padded4 =
            self.batch as u64 * self.s_count as u64 * (self.t_h as u64 + kernel - 1) * row4;
        // vec4 per block and tap: a block of min(32, t_count rounded up to 4) channels
        let quarters = self.t_count.next_multiple_of(4).min(32) as u64 / 4;
        let filters4 = blocks_t * self.s_count as u64 * kernel * kernel * quarters;
        let wasteful = tiles < LANES_MIN_TILES
            || self.t_count.next_multiple_of(32) * 4 > self.t_count.next_multiple_of(8) * 5;
        // 8 vec4 more filters: the lanes of a narrow block read up to 32 values past its end
        if (wasteful && !ctx.settings.conv_ignore_speed_rules)
            || padded4.max(filters4 + 8) * 16 > ctx.binding_limit
        {
            return None;
        }
        let padded = ctx.scratch("conv lanes padded source", padded4.max(1) * 16);
        let filters = ctx.scratch("conv lanes filters", (filters4 + 8) * 16);
        let params = uniform(ctx, "conv params", self);
        let invocations = tiles * blocks_t * 4;
        Some(vec![
            Launch::new(
                ctx,
                &LANES_PREPARE,
                "pad_source",
                &[&params, source, &padded],
                padded4 as usize,
            ),
            Launch::with_constants(
                ctx,
                &LANES_PREPARE,
                "gather_filters",
                &[weights_f16(storage)],
                &[&params, weight, &filters],
                filters4 as usize,
            ),
            Launch::new(
                ctx,
                &LANES,
                "conv2d_lanes",
                &[&params, &padded, &filters, bias, target],
                invocations as usize,
            ),
        ])
    }

    /// One dispatch of `conv2d.wgsl`: one invocation per 8 target channels × TILE_H rows
    /// × 8 columns.
    fn launch_fallback(
        &self,
        ctx: &GpuContext,
        op: &'static str,
        source: &wgpu::Buffer,
        (weight, storage): (&wgpu::Buffer, Storage),
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
            &[("TILE_H", rows as f64), weights_f16(storage)],
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
/// least the 8 lanes its broadcasts read and at most a workgroup. No wider than that:
/// each invocation of a run past the last tile computes a copy for nothing, which on
/// small maps is most of the work (dense evaluation's FC layers run on 1×1 maps, one
/// tile).
fn share_width(ctx: &GpuContext) -> usize {
    (ctx.adapter_info.subgroup_max_size as usize)
        .max(8)
        .next_power_of_two()
        .min(WORKGROUP_SIZE as usize)
}

/// The target width as the autotuner's problem class sees it: exact up to 8 columns
/// (where 4-column tiles and 2-row tiles matter), else rounded up to a power of two. Dense
/// evaluation meets a new width with each image's aspect ratio and test scale; classes by
/// exact width made a folder of photos tune every conv layer again for every photo.
#[cfg(not(target_arch = "wasm32"))]
fn tuning_width_class(t_w: u32) -> u32 {
    if t_w <= 8 {
        t_w
    } else {
        t_w.next_power_of_two()
    }
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

/// The device's fallback conv tile height, which the shader supports only as 1 or 2.
fn tile_rows(ctx: &GpuContext, op: &'static str) -> Result<u32> {
    match ctx.settings.conv_tile_rows {
        rows @ (1 | 2) => Ok(rows),
        rows => Err(Error::InvalidArgument {
            op,
            message: format!("conv_tile_rows is {rows}; the shaders take 1 or 2"),
        }),
    }
}

/// What a forward convolution's result is for, which decides how it may be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvUse {
    /// Gradients are taken through it: always the direct sum, whose rounding
    /// tests/kernels/long_sums.rs bounds.
    Training,
    /// Nothing is trained from it (evaluation, classification, features): Winograd's
    /// F(4×4, 3×3) where `KernelSettings::conv_winograd` calls for it: 4× fewer
    /// multiply-adds for about 4× the direct sum's rounding error.
    Inference,
}

/// y = conv(x, weight) + bias, then ReLU when `relu`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward(
    ctx: &GpuContext,
    s: &ConvShape,
    use_: ConvUse,
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
            launches.extend(params.launch(
                ctx,
                OP,
                use_,
                &x.chunks[piece.chunk[0]].buffer,
                (&w_chunk.buffer, weight.storage),
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
    weight.expect_f32(OP, "weight")?;
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
            launches.extend(params.launch(
                ctx,
                OP,
                ConvUse::Training,
                &dy.chunks[piece.chunk[0]].buffer,
                (&w_chunk.buffer, Storage::F32),
                &w_chunk.buffer,
                &dx.chunks[piece.chunk[1]].buffer,
            )?);
        }
    }
    Ok(launches)
}

/// The parameter struct of this kernel family, for the check against the WGSL struct it
/// mirrors (see [`crate::kernels::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        ConvolveParams,
        "prelude.wgsl",
        "ConvolveParams",
        [
            batch, s_count, s_h, s_w, t_count, t_h, t_w, kernel, pad, relu, accumulate, has_bias,
            s_channels, s0, t_channels, t0, s_offset, t_offset, w_t_stride, w_s_stride, flip
        ]
    )]
}
