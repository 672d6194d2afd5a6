//! C = A · B on the CPU, for the Winograd products ([`super::winograd`]): A packed in
//! panels of [`MR`] rows, B and C row-major with a row length that is a multiple of
//! [`NR`]. Each [`MR`]×[`NR`] tile of C is summed in registers; the loops over fixed-size
//! arrays are what LLVM turns into vector code (4 lanes with wasm's simd128, SSE
//! natively), measured at 11–13 GFLOP/s on one core in V8 for this shape of tile.

/// Rows of A per panel, and of C per tile.
pub const MR: usize = 4;
/// Columns of B and C per tile: two 4-lane vectors.
pub const NR: usize = 8;
/// Terms of each partial sum: a tile sums `K_BLOCK` products of A and B in registers,
/// then adds that into C. Over 512 terms this rounds about as the GPU's blocked sums
/// do, where one sequential sum would round about 2.4× worse (BENCHMARKS.md).
pub const K_BLOCK: usize = 64;

/// The length of `rows` rows of A packed: whole panels.
pub fn packed_len(rows: usize, k: usize) -> usize {
    rows.div_ceil(MR) * MR * k
}

/// Where A's element (row, col) lies in its packed form: panel `row / MR`, k-major
/// within it, rows past the last zero.
pub fn packed_index(row: usize, col: usize, k: usize) -> usize {
    (row / MR * k + col) * MR + row % MR
}

/// c (m × n) = a (m × k, packed) · b (k × n); n a multiple of [`NR`].
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(
        n.is_multiple_of(NR),
        "matmul: {n} columns, not a multiple of {NR}"
    );
    assert!(a.len() >= packed_len(m, k) && b.len() >= k * n && c.len() >= m * n);
    for row in (0..m).step_by(MR) {
        let panel = &a[row * k..(row + MR) * k];
        let rows = MR.min(m - row);
        for k0 in (0..k).step_by(K_BLOCK) {
            let k1 = (k0 + K_BLOCK).min(k);
            let panel = &panel[k0 * MR..k1 * MR];
            for col in (0..n).step_by(NR) {
                let tile = tile_product(panel, &b[k0 * n + col..], n, k1 - k0);
                for (r, tile_row) in tile.iter().enumerate().take(rows) {
                    let out = &mut c[(row + r) * n + col..][..NR];
                    if k0 == 0 {
                        out.copy_from_slice(tile_row);
                    } else {
                        out.iter_mut().zip(tile_row).for_each(|(o, t)| *o += t);
                    }
                }
            }
        }
    }
}

/// The MR×NR tile Σ_p panel[p] ⊗ b[p] over `depth` terms, each a row of the panel (MR
/// values of A) times NR values of B's row p (stride `ldb`), summed in order.
#[inline(always)]
fn tile_product(panel: &[f32], b: &[f32], ldb: usize, depth: usize) -> [[f32; NR]; MR] {
    let mut acc = [[0f32; NR]; MR];
    for p in 0..depth {
        let a: &[f32; MR] = panel[p * MR..][..MR].try_into().expect("MR values");
        let b: &[f32; NR] = b[p * ldb..][..NR].try_into().expect("NR values");
        for r in 0..MR {
            for j in 0..NR {
                acc[r][j] += a[r] * b[j];
            }
        }
    }
    acc
}
