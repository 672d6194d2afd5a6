//! Which weight-gradient kernel runs for a layer, and with which block shape: the
//! workgroup-tiled kernel on adapters that are not CPUs, the subgroup or the register
//! kernel on CPUs (see `weight_gradient.rs` for the pass they run in).

use super::row_split::{TILED_WEIGHT_GRAD_INVOCATIONS, WEIGHT_GRAD_INVOCATIONS};
#[cfg(not(target_arch = "wasm32"))]
use super::weight_gradient::ConvParams;
#[cfg(not(target_arch = "wasm32"))]
use super::TILE_GROUPS;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::tensor::new_storage_buffer;
use crate::gpu::Shader;
use crate::kernels::{shader, GpuContext, WORKGROUP_SIZE};
#[cfg(not(target_arch = "wasm32"))]
use crate::kernels::{tune, uniform, Launch};
use crate::shape::ConvShape;

const BACKWARD_WEIGHT: Shader = shader!("conv2d_backward_weight.wgsl");
const BACKWARD_WEIGHT_SUBGROUP: Shader = shader!("conv2d_backward_weight_subgroup.wgsl");
const BACKWARD_WEIGHT_TILED: Shader = shader!("conv2d_backward_weight_tiled.wgsl");

/// Which weight-gradient kernel runs for a layer.
#[derive(Clone, Copy)]
pub(super) enum WeightKernel {
    /// `conv2d_backward_weight.wgsl`: register tiles, no subgroups.
    Registers,
    /// `conv2d_backward_weight_subgroup.wgsl`.
    Subgroup,
    /// `conv2d_backward_weight_tiled.wgsl`, with `GROUP_T` invocations along the output
    /// channels.
    Tiled { group_t: u32 },
}

impl WeightKernel {
    pub(super) fn choose(ctx: &GpuContext, s: &ConvShape, o_count: usize) -> WeightKernel {
        if ctx.settings.conv_tiles {
            let group_t = match ctx.settings.conv_tile_group {
                Some(group_t) => group_t,
                None => tuned_group(ctx, s, o_count),
            };
            WeightKernel::Tiled { group_t }
        } else if ctx.settings.subgroups && subgroup_weight_tiles(s) >= SUBGROUP_WEIGHT_MIN_TILES {
            WeightKernel::Subgroup
        } else {
            WeightKernel::Registers
        }
    }

    /// Invocations of one part for a dw chunk of `o_count` output channels.
    pub(super) fn invocations(self, s: &ConvShape, o_count: usize) -> usize {
        let group = WORKGROUP_SIZE as usize;
        match self {
            WeightKernel::Registers => weight_grad_tiles(s, o_count),
            WeightKernel::Subgroup => {
                o_count.div_ceil(16) * subgroup_weight_tiles(s).div_ceil(group) * group
            }
            WeightKernel::Tiled { group_t } => {
                let (block_o, block_q) = (8 * group_t as usize, 8 * group / group_t as usize);
                let columns = s.in_channels * s.kernel * s.kernel + 1; // + the bias column
                o_count.div_ceil(block_o) * columns.div_ceil(block_q) * group
            }
        }
    }

    /// How many invocations the row split aims for: a GPU wants a few thousand
    /// workgroups in flight where the CPU adapters' kernels want fewer, longer ones.
    pub(super) fn wanted_invocations(self) -> usize {
        match self {
            WeightKernel::Tiled { .. } => TILED_WEIGHT_GRAD_INVOCATIONS,
            _ => WEIGHT_GRAD_INVOCATIONS,
        }
    }

    /// The shader, its entry point and its override constants.
    pub(super) fn shader(
        self,
        s: &ConvShape,
    ) -> (&'static Shader, &'static str, Vec<(&'static str, f64)>) {
        match self {
            WeightKernel::Registers => (&BACKWARD_WEIGHT, "conv2d_backward_weight", vec![]),
            WeightKernel::Subgroup => (
                &BACKWARD_WEIGHT_SUBGROUP,
                "conv2d_backward_weight_subgroup",
                vec![("UNROLL_COLUMNS", (s.out_w() >= 16) as u32 as f64)],
            ),
            WeightKernel::Tiled { group_t } => (
                &BACKWARD_WEIGHT_TILED,
                "conv2d_backward_weight_tiled",
                vec![
                    ("GROUP_T", group_t as f64),
                    ("KERNEL", if s.kernel <= 7 { s.kernel as f64 } else { 0.0 }),
                ],
            ),
        }
    }
}

/// Invocations of one part of the weight-gradient pass for a dw chunk of `o_count`
/// output channels: weight tiles of 8 output × 4 input channels × 3 kernel columns of
/// one kernel row, then one bias tile per 8 output channels (see the shader).
pub(super) fn weight_grad_tiles(s: &ConvShape, o_count: usize) -> usize {
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

/// The tiled kernel's block shape where nothing is measured: 32 output channels × 128
/// columns for 32 output channels or fewer, else 64 × 64.
fn default_group(o_count: usize) -> u32 {
    if o_count <= 32 {
        4
    } else {
        8
    }
}

/// The autotuner's block shape for the tiled kernel, timed on one part of up to 16 384
/// pixels with up to 64 input channels and the layer's output channels.
#[cfg(not(target_arch = "wasm32"))]
fn tuned_group(ctx: &GpuContext, s: &ConvShape, o_count: usize) -> u32 {
    const PROXY_PIXELS: usize = 16384;
    let default = default_group(o_count);
    let (out_w, out_h) = (s.out_w().max(1), s.out_h().max(1));
    let rows = PROXY_PIXELS.div_ceil(out_w).min(out_h).max(1);
    let proxy = ConvShape {
        batch: PROXY_PIXELS.div_ceil(rows * out_w).min(s.batch).max(1),
        in_channels: s.in_channels.min(64),
        in_h: (rows + s.kernel - 1).saturating_sub(2 * s.pad).max(1),
        out_channels: o_count,
        ..*s
    };
    let class = format!(
        "conv2d weight tiled k{} input channels {} output channels {o_count} pixels {}",
        s.kernel,
        match s.in_channels {
            0..=8 => "≤8",
            9..=64 => "≤64",
            _ => ">64",
        },
        (proxy.batch * proxy.out_h() * out_w).next_power_of_two()
    );
    let buffer =
        |label, elements: usize| new_storage_buffer(ctx, label, elements.max(1) as u64 * 4);
    let x = buffer("tuning x", proxy.input().iter().product());
    let dy = buffer("tuning dy", proxy.output().iter().product());
    let dw = buffer("tuning dw", proxy.weight().iter().product());
    let db = buffer("tuning db", o_count);
    let params = uniform(ctx, "conv params", &ConvParams::new(&proxy, proxy.batch));
    let candidates: Vec<tune::Constants> = TILE_GROUPS
        .iter()
        .map(|&g| vec![("GROUP_T", g as f64)])
        .collect();
    let default_index = TILE_GROUPS.iter().position(|&g| g == default).unwrap_or(1);
    let index = tune::choose(
        ctx,
        &BACKWARD_WEIGHT_TILED,
        &class,
        &candidates,
        default_index,
        |c| {
            let kernel = WeightKernel::Tiled {
                group_t: c[0].1 as u32,
            };
            let (shader, entry, constants) = kernel.shader(&proxy);
            let launch = Launch::with_constants(
                ctx,
                shader,
                entry,
                &constants,
                &[&params, &x, &dy, &dw, &db],
                kernel.invocations(&proxy, o_count),
            );
            tune::seconds_of(ctx, &launch)
        },
    );
    TILE_GROUPS[index]
}

/// No autotuning in the browser (no blocking waits to time with).
#[cfg(target_arch = "wasm32")]
fn tuned_group(_: &GpuContext, _: &ConvShape, o_count: usize) -> u32 {
    default_group(o_count)
}
