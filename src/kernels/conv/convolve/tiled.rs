//! The forward and input-gradient launch on adapters that are not CPUs:
//! `shaders/conv2d_tiled.wgsl`, the convolution as an implicit matrix product with tiles
//! staged in workgroup memory (see
//! [`crate::kernels::settings::KernelSettings::conv_tiles`]), and the choice of its
//! block shape.

use super::ConvolveParams;
use crate::gpu::Storage;
#[cfg(not(target_arch = "wasm32"))]
use crate::kernels::tune;
use crate::kernels::GpuContext;
use crate::kernels::{shader, uniform, weights_f16, Launch, Shader, WORKGROUP_SIZE};

const TILED: Shader = shader!("conv2d_tiled.wgsl");

/// The block shapes, as the workgroup's invocations along the target channels
/// (`GROUP_T`; the other 64 / GROUP_T run along the pixels): blocks of 32 channels ×
/// 128 pixels, 64 × 64 and 128 × 32. All three need 10.5 KiB of workgroup memory, under
/// WebGPU's default 16 KiB.
pub const TILE_GROUPS: [u32; 3] = [4, 8, 16];

/// The block shape where nothing is measured: the square block, except where the target
/// channels (32 or fewer) or the pixels (32 or fewer: dense evaluation's fully connected
/// layers on small maps) would fill less than half of it.
fn default_group(t_count: u32, pixels: u32) -> u32 {
    match (t_count, pixels) {
        (0..=32, _) => 4,
        (_, 0..=32) => 16,
        _ => 8,
    }
}

impl ConvolveParams {
    /// Target pixels over the batch: the matrix product's columns.
    fn pixels(&self) -> u32 {
        self.batch * self.t_h * self.t_w
    }

    /// The dispatch of `conv2d_tiled.wgsl` with the block shape
    /// `KernelSettings::conv_tile_group` fixes or the autotuner picks.
    pub(super) fn launch_tiled(
        &self,
        ctx: &GpuContext,
        source: &wgpu::Buffer,
        weight: (&wgpu::Buffer, Storage),
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Launch {
        let group_t = match ctx.settings.conv_tile_group {
            Some(group_t) => group_t,
            None => self.tuned_group(ctx),
        };
        self.launch_tiled_with(ctx, group_t, source, weight, bias, target)
    }

    /// One workgroup per block of 8·`group_t` target channels × 8·(64 / `group_t`)
    /// pixels.
    fn launch_tiled_with(
        &self,
        ctx: &GpuContext,
        group_t: u32,
        source: &wgpu::Buffer,
        (weight, storage): (&wgpu::Buffer, Storage),
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Launch {
        let block_t = 8 * group_t;
        let block_q = 8 * (WORKGROUP_SIZE / group_t);
        let blocks =
            self.t_count.div_ceil(block_t) as usize * self.pixels().div_ceil(block_q) as usize;
        let kernel = if self.kernel <= 7 { self.kernel } else { 0 };
        Launch::with_constants(
            ctx,
            &TILED,
            "conv2d_tiled",
            &[
                ("GROUP_T", group_t as f64),
                ("KERNEL", kernel as f64),
                weights_f16(storage),
            ],
            &[
                &uniform(ctx, "conv params", self),
                source,
                weight,
                bias,
                target,
            ],
            blocks * WORKGROUP_SIZE as usize,
        )
    }

    /// The autotuner's block shape for this problem's class, timed on a proxy of up to
    /// 16 384 target pixels (a few hundred workgroups: enough to fill a GPU as the real
    /// layer does) and up to 64 source channels.
    #[cfg(not(target_arch = "wasm32"))]
    fn tuned_group(&self, ctx: &GpuContext) -> u32 {
        const PROXY_PIXELS: u32 = 16384;
        let pixels = self.pixels();
        let default = default_group(self.t_count, pixels);
        let candidates: Vec<tune::Constants> = TILE_GROUPS
            .iter()
            .map(|&g| vec![("GROUP_T", g as f64)])
            .collect();
        let class = format!(
            "conv2d tiled k{} source channels {} target channels {} pixels {}",
            self.kernel,
            match self.s_count {
                0..=8 => "≤8",
                9..=64 => "≤64",
                _ => ">64",
            },
            self.t_count,
            pixels.min(PROXY_PIXELS).next_power_of_two()
        );
        let default_index = TILE_GROUPS.iter().position(|&g| g == default).unwrap_or(1);
        let proxy = self.proxy(ctx, PROXY_PIXELS, 64);
        let index = tune::choose(ctx, &TILED, &class, &candidates, default_index, |c| {
            let launch = proxy.params.launch_tiled_with(
                ctx,
                c[0].1 as u32,
                &proxy.source,
                (&proxy.weight, Storage::F32),
                &proxy.bias,
                &proxy.target,
            );
            tune::seconds_of(ctx, &launch)
        });
        TILE_GROUPS[index]
    }

    /// No autotuning in the browser (no blocking waits to time with).
    #[cfg(target_arch = "wasm32")]
    fn tuned_group(&self, _: &GpuContext) -> u32 {
        default_group(self.t_count, self.pixels())
    }
}
