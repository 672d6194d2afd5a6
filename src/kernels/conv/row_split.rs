//! How the weight-gradient pass (`weight_gradient.rs`) splits its reduction over the
//! N·OH rows of dy into parts that run side by side, then a reduce sums them.

/// The weight-gradient pass splits its reduction over the N·OH rows of dy into parts
/// until tiles × parts reach this many invocations (big images with few channels would
/// otherwise leave most of the device idle)...
pub(super) const WEIGHT_GRAD_INVOCATIONS: usize = 16384;
/// The same aim for the tiled kernel of GPUs: 2048 workgroups, about 15 per SM on an
/// H100 (132 SMs), so that the last wave leaves little of the device idle.
pub(super) const TILED_WEIGHT_GRAD_INVOCATIONS: usize = 131072;
/// ...as long as the partial sums fit this many bytes (and one storage binding)...
pub(super) const WEIGHT_GRAD_SCRATCH_BYTES: u64 = 32 << 20;
/// ...and each part still sums at least this many output pixels: below that, writing
/// and re-reading the partial sums costs more than the parallelism gains (measured on
/// lavapipe: VGG-A ÷8 at 32×32, batch 32, the 2×2 layer took 32 ms split into 42 parts
/// of 2 rows).
const WEIGHT_GRAD_MIN_PIXELS_PER_PART: usize = 512;

/// How the weight-gradient pass splits its `rows` (n, oh) of dy into parts.
#[derive(Clone, Copy, Debug)]
pub(super) struct RowSplit {
    pub(super) parts: usize,
    pub(super) rows_per_part: usize,
}

impl RowSplit {
    /// Enough parts for `wanted_invocations` (the kernel's aim, `WEIGHT_GRAD_INVOCATIONS`
    /// or `TILED_WEIGHT_GRAD_INVOCATIONS`) with `tiles` invocations per part, at most
    /// `max_parts` (what the scratch holds), each part at least
    /// `WEIGHT_GRAD_MIN_PIXELS_PER_PART` pixels of rows `row_len` long.
    pub(super) fn new(
        rows: usize,
        row_len: usize,
        tiles: usize,
        wanted_invocations: usize,
        max_parts: u64,
    ) -> RowSplit {
        let wanted = wanted_invocations.div_ceil(tiles.max(1));
        let min_rows = WEIGHT_GRAD_MIN_PIXELS_PER_PART.div_ceil(row_len.max(1));
        let parts = wanted.min(max_parts as usize).min(rows / min_rows).max(1);
        let rows_per_part = rows.div_ceil(parts).max(1);
        RowSplit {
            parts: rows.div_ceil(rows_per_part).max(1),
            rows_per_part,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::weight_kernel::weight_grad_tiles;
    use super::*;
    use crate::shape::ConvShape;

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
            WEIGHT_GRAD_INVOCATIONS,
            1 << 20,
        );
        assert!(split.parts > 1, "{split:?}");
        assert!(split.rows_per_part * s.out_w() >= WEIGHT_GRAD_MIN_PIXELS_PER_PART);
    }

    #[test]
    fn small_images_are_not_split() {
        // VGG-A ÷8's last layer at 32×32 input: 2×2 images, batch 32.
        let split = RowSplit::new(32 * 2, 2, 392, WEIGHT_GRAD_INVOCATIONS, 1 << 20);
        assert_eq!(split.parts, 1);
    }
}
