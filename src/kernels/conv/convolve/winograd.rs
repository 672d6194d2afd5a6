//! Winograd's F(4×4, 3×3) for the 3×3 forward convolutions of inference on SwiftShader
//! (see [`crate::kernels::settings::KernelSettings::conv_winograd`]): the filters and the
//! source transformed by `shaders/conv2d_winograd_input.wgsl`, the 36 matrix products of
//! `shaders/conv2d_winograd.wgsl`, and their transform into the target by
//! `shaders/conv2d_winograd_output.wgsl`. Oracle: the direct sum, `conv2d_forward` in
//! `src/oracle/conv.rs` (tests/kernels/conv.rs and long_sums.rs bound the difference).

use super::ConvolveParams;
use crate::gpu::Storage;
use crate::kernels::{shader, uniform, weights_f16, GpuContext, Launch, Shader};

const PRODUCTS: Shader = shader!("conv2d_winograd.wgsl");
const INPUT: Shader = shader!("conv2d_winograd_input.wgsl");
const OUTPUT: Shader = shader!("conv2d_winograd_output.wgsl");

/// Fewest source channels for which Winograd's convolution runs: with few, the
/// transforms cost more than the products save (VGG's first layer, 3 channels, ran at
/// 0.72 effective GFLOP/s against the lanes kernel's 0.92 on SwiftShader, measured
/// before the transforms were written out with constant indices).
const MIN_SOURCE_CHANNELS: u32 = 8;

/// Points of a transformed 6×6 tile: one matrix product each.
const POINTS: u64 = 36;

impl ConvolveParams {
    /// The four dispatches of a Winograd convolution: the filters and the source
    /// transformed into the device's scratch buffers, the 36 products (4 invocations
    /// per 32 target channels × 8 tiles), and the products transformed into the target.
    /// `None` (the caller runs a direct kernel) for filters other than 3×3, where a
    /// transformed operand would exceed the binding limit, and (unless
    /// `KernelSettings::conv_ignore_speed_rules` is set) for fewer than
    /// [`MIN_SOURCE_CHANNELS`] source channels.
    pub(super) fn launch_winograd(
        &self,
        ctx: &GpuContext,
        source: &wgpu::Buffer,
        (weight, storage): (&wgpu::Buffer, Storage),
        bias: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Option<Vec<Launch>> {
        let slower = self.s_count < MIN_SOURCE_CHANNELS;
        if self.kernel != 3 || (slower && !ctx.settings.conv_ignore_speed_rules) {
            return None;
        }
        let tiles = self.batch as u64 * self.t_h.div_ceil(4) as u64 * self.t_w.div_ceil(4) as u64;
        let columns = tiles.next_multiple_of(8); // winograd_columns in prelude.wgsl
        let blocks_t = self.t_count.div_ceil(32) as u64;
        let width = self.t_count.next_multiple_of(4).min(32) as u64; // winograd_block_width
        let (s_count, t_count) = (self.s_count as u64, self.t_count as u64);
        let filters_per_point = blocks_t * s_count * width;
        let source_bytes = POINTS * s_count * columns * 4;
        // 32 values more: the lanes of a narrow block read up to 32 values past its end
        let filter_bytes = (POINTS * filters_per_point + 32) * 4;
        let product_bytes = POINTS * t_count * columns * 4;
        if source_bytes.max(filter_bytes).max(product_bytes) > ctx.binding_limit {
            return None;
        }
        let params = uniform(ctx, "conv params", self);
        let transformed_source = ctx.scratch("winograd transformed source", source_bytes);
        let transformed_filters = ctx.scratch("winograd transformed filters", filter_bytes);
        let products = ctx.scratch("winograd products", product_bytes);
        Some(vec![
            Launch::with_constants(
                ctx,
                &INPUT,
                "transform_filters",
                &[weights_f16(storage)],
                &[&params, weight, &transformed_filters],
                filters_per_point as usize,
            ),
            Launch::new(
                ctx,
                &INPUT,
                "transform_source",
                &[&params, source, &transformed_source],
                (s_count * columns) as usize,
            ),
            Launch::new(
                ctx,
                &PRODUCTS,
                "winograd_products",
                &[
                    &params,
                    &transformed_source,
                    &transformed_filters,
                    &products,
                ],
                (POINTS * blocks_t * columns / 8 * 4) as usize,
            ),
            Launch::new(
                ctx,
                &OUTPUT,
                "transform_products",
                &[&params, &products, bias, target],
                (t_count * tiles) as usize,
            ),
        ])
    }
}
