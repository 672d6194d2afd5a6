//! A 3×3 convolution with padding 1 on the CPU by Winograd's F(4×4, 3×3), the
//! transforms of `shaders/conv2d_winograd_input.wgsl` and `conv2d_winograd_output.wgsl`
//! (their header gives the algebra): each 4×4 tile of the target is Aᵀ [Σ_i U_i ⊙ V_i] A,
//! U_i = G g_i Gᵀ the filters' and V_i = Bᵀ d_i B the source patches' 6×6 transforms.
//! The sum over source channels is 36 matrix products ([`matmul`]), 36 multiply-adds per
//! tile and channel pair instead of 144.
//!
//! Tiles go through in chunks that keep the transformed operands within a few MiB
//! (cache, and the page's memory), and the caller's [`Pause`] runs after each of a
//! chunk's 36 products.

use super::matmul::{matmul, packed_index, packed_len, NR};
use super::Pause;

/// Points of a transformed tile.
const POINTS: usize = 36;
/// Filters transformed between two pauses.
const FILTERS_BETWEEN_PAUSES: usize = 1 << 14;
/// Most bytes of transformed source (or of products) per chunk of tiles.
const CHUNK_BYTES: usize = 8 << 20;

/// Bᵀ x for a column x of six source values (and x B for a row).
fn source_1d(d: [f32; 6]) -> [f32; 6] {
    [
        4.0 * d[0] - 5.0 * d[2] + d[4],
        -4.0 * d[1] - 4.0 * d[2] + d[3] + d[4],
        4.0 * d[1] - 4.0 * d[2] - d[3] + d[4],
        -2.0 * d[1] - d[2] + 2.0 * d[3] + d[4],
        2.0 * d[1] - d[2] - 2.0 * d[3] + d[4],
        4.0 * d[1] - 5.0 * d[3] + d[5],
    ]
}

/// G x for a column x of three filter values (and x Gᵀ for a row).
fn filter_1d(g: [f32; 3]) -> [f32; 6] {
    [
        g[0] / 4.0,
        -(g[0] + g[1] + g[2]) / 6.0,
        -(g[0] - g[1] + g[2]) / 6.0,
        g[0] / 24.0 + g[1] / 12.0 + g[2] / 6.0,
        g[0] / 24.0 - g[1] / 12.0 + g[2] / 6.0,
        g[2],
    ]
}

/// Aᵀ x for a column x of six products (and x A for a row).
fn product_1d(m: [f32; 6]) -> [f32; 4] {
    [
        m[0] + m[1] + m[2] + m[3] + m[4],
        m[1] - m[2] + 2.0 * (m[3] - m[4]),
        m[1] + m[2] + 4.0 * (m[3] + m[4]),
        m[1] - m[2] + 8.0 * (m[3] - m[4]) + m[5],
    ]
}

/// L x R for a tile x, where `along` maps each column of x and then each row of the
/// result: the 2-D transforms Bᵀ d B, G g Gᵀ and Aᵀ m A.
fn transform_2d<const I: usize, const O: usize>(
    x: [[f32; I]; I],
    along: impl Fn([f32; I]) -> [f32; O],
) -> [[f32; O]; O] {
    let columns: [[f32; O]; I] = std::array::from_fn(|c| along(std::array::from_fn(|r| x[r][c])));
    // columns[c][r] is (L x)[r][c]; each row r of L x then goes through the same map.
    std::array::from_fn(|r| along(std::array::from_fn(|c| columns[c][r])))
}

/// A 3×3, padding-1 convolution's weights made ready for [`conv3x3`]: U (36 points,
/// out_channels × in_channels packed for [`matmul`]).
pub struct Filters {
    transformed: Vec<f32>,
    pub in_channels: usize,
    pub out_channels: usize,
}

impl Filters {
    /// `weight` (out_channels, in_channels, 3, 3) transformed, with a pause every
    /// [`FILTERS_BETWEEN_PAUSES`] filters (a 512×512 layer's take about 50 ms natively).
    pub async fn new(
        weight: &[f32],
        out_channels: usize,
        in_channels: usize,
        pause: &mut impl Pause,
    ) -> Filters {
        assert_eq!(weight.len(), out_channels * in_channels * 9);
        let per_point = packed_len(out_channels, in_channels);
        let mut transformed = vec![0f32; POINTS * per_point];
        for o in 0..out_channels {
            if (o * in_channels) % FILTERS_BETWEEN_PAUSES < in_channels {
                pause.pause().await;
            }
            for i in 0..in_channels {
                let g = &weight[(o * in_channels + i) * 9..][..9];
                let g: [[f32; 3]; 3] =
                    std::array::from_fn(|r| [g[3 * r], g[3 * r + 1], g[3 * r + 2]]);
                let u = transform_2d(g, filter_1d);
                let at = packed_index(o, i, in_channels);
                for (point, value) in u.iter().flatten().enumerate() {
                    transformed[point * per_point + at] = *value;
                }
            }
        }
        Filters {
            transformed,
            in_channels,
            out_channels,
        }
    }

    fn point(&self, point: usize) -> &[f32] {
        let per_point = packed_len(self.out_channels, self.in_channels);
        &self.transformed[point * per_point..][..per_point]
    }
}

/// Where tile `q` of a batch of (height, width) images lies: (image, top row, left column).
fn tile_origin(q: usize, tiles_h: usize, tiles_w: usize) -> (usize, usize, usize) {
    let per_image = tiles_h * tiles_w;
    let (image, t) = (q / per_image, q % per_image);
    (image, 4 * (t / tiles_w), 4 * (t % tiles_w))
}

/// Tiles per chunk for these filters: as many as keep the transformed source and the
/// products within [`CHUNK_BYTES`] each, a multiple of [`NR`].
pub fn chunk_tiles(filters: &Filters) -> usize {
    let widest = filters.in_channels.max(filters.out_channels);
    (CHUNK_BYTES / (4 * POINTS * widest)).max(NR) / NR * NR
}

/// y (batch, out_channels, height, width) = x (batch, in_channels, height, width) ⋆ the
/// filters, padding 1, + bias, then max(0, ·) when `relu`; `chunk` tiles at a time (a
/// multiple of [`NR`], normally [`chunk_tiles`]).
#[allow(clippy::too_many_arguments)]
pub async fn conv3x3(
    x: &[f32],
    batch: usize,
    height: usize,
    width: usize,
    filters: &Filters,
    bias: &[f32],
    relu: bool,
    chunk: usize,
    pause: &mut impl Pause,
) -> Vec<f32> {
    let (c_in, c_out) = (filters.in_channels, filters.out_channels);
    assert_eq!(x.len(), batch * c_in * height * width);
    assert_eq!(bias.len(), c_out);
    let (tiles_h, tiles_w) = (height.div_ceil(4), width.div_ceil(4));
    let tiles = batch * tiles_h * tiles_w;
    assert!(
        chunk > 0 && chunk.is_multiple_of(NR),
        "chunks of {chunk} tiles"
    );
    let mut source = vec![0f32; POINTS * c_in * chunk];
    let mut products = vec![0f32; POINTS * c_out * chunk];
    let mut y = vec![0f32; batch * c_out * height * width];
    let geometry = Geometry {
        height,
        width,
        tiles_h,
        tiles_w,
    };
    for first in (0..tiles).step_by(chunk) {
        let count = chunk.min(tiles - first);
        let columns = count.next_multiple_of(NR);
        transform_source(x, c_in, &geometry, first, count, columns, &mut source);
        for point in 0..POINTS {
            matmul(
                filters.point(point),
                &source[point * c_in * columns..][..c_in * columns],
                &mut products[point * c_out * columns..][..c_out * columns],
                c_out,
                c_in,
                columns,
            );
            // A chunk of VGG-16's 512-channel layers is about 2 GFLOP: a pause per point.
            pause.pause().await;
        }
        let tiles_done = Tiles {
            first,
            count,
            columns,
        };
        transform_products(&products, c_out, &geometry, &tiles_done, bias, relu, &mut y);
        pause.pause().await;
    }
    y
}

/// The images' size and their tiling.
struct Geometry {
    height: usize,
    width: usize,
    tiles_h: usize,
    tiles_w: usize,
}

/// A chunk of tiles: `count` from tile `first`, laid out `columns` apart.
struct Tiles {
    first: usize,
    count: usize,
    columns: usize,
}

/// V (36 points, channels, columns): each tile's 6×6 patch of x (zero outside the
/// image) transformed; columns past `count` zero.
fn transform_source(
    x: &[f32],
    channels: usize,
    g: &Geometry,
    first: usize,
    count: usize,
    columns: usize,
    v: &mut [f32],
) {
    let per_point = channels * columns;
    for c in 0..channels {
        for j in 0..columns {
            let transformed = match j < count {
                true => {
                    let (image, top, left) = tile_origin(first + j, g.tiles_h, g.tiles_w);
                    let plane =
                        &x[(image * channels + c) * g.height * g.width..][..g.height * g.width];
                    transform_2d(patch(plane, g, top, left), source_1d)
                }
                false => [[0.0; 6]; 6],
            };
            for (point, value) in transformed.iter().flatten().enumerate() {
                v[point * per_point + c * columns + j] = *value;
            }
        }
    }
}

/// The 6×6 patch of `plane` from (top − 1, left − 1), zero outside it.
fn patch(plane: &[f32], g: &Geometry, top: usize, left: usize) -> [[f32; 6]; 6] {
    let inside = top >= 1 && left >= 1 && top + 5 <= g.height && left + 5 <= g.width;
    std::array::from_fn(|r| {
        std::array::from_fn(|s| {
            let (row, col) = ((top + r).wrapping_sub(1), (left + s).wrapping_sub(1));
            match inside || (row < g.height && col < g.width) {
                true => plane[row * g.width + col],
                false => 0.0,
            }
        })
    })
}

/// y's tiles of the chunk: Aᵀ M A of each tile's 36 products, + bias, ReLU when asked,
/// the rows and columns past the image's edge left out.
fn transform_products(
    m: &[f32],
    channels: usize,
    g: &Geometry,
    tiles: &Tiles,
    bias: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    let per_point = channels * tiles.columns;
    for c in 0..channels {
        for j in 0..tiles.count {
            let products: [[f32; 6]; 6] = std::array::from_fn(|r| {
                std::array::from_fn(|s| m[(6 * r + s) * per_point + c * tiles.columns + j])
            });
            let out = transform_2d(products, product_1d);
            let (image, top, left) = tile_origin(tiles.first + j, g.tiles_h, g.tiles_w);
            let plane = &mut y[(image * channels + c) * g.height * g.width..][..g.height * g.width];
            for (r, row) in out.iter().enumerate().take(g.height - top) {
                for (s, value) in row.iter().enumerate().take(g.width - left) {
                    let v = value + bias[c];
                    plane[(top + r) * g.width + left + s] = if relu { v.max(0.0) } else { v };
                }
            }
        }
    }
}
