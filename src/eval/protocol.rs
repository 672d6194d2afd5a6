//! The paper's testing protocol as pure functions (Section 3.2): which test scales,
//! where the multi-crop windows lie, how posteriors are combined, and how top-1/top-5
//! errors are counted. No GPU here.

use crate::error::{Error, Result};

/// Test scales Q for a net trained at `train_scale` = [Smin, Smax]: {S−d, S, S+d} for a
/// single-scale net with d = 32, the paper's, or S/8 when that is smaller (a small net
/// trained at S = 36 would otherwise be tested at nearly twice its scale), and
/// {Smin, (Smin+Smax)/2, Smax} for a jittered one. Scales below the training input size are raised to it, and duplicates
/// dropped; the result is ascending.
pub fn default_scales(train_scale: [u32; 2], input_size: u32) -> Vec<u32> {
    let [s_min, s_max] = train_scale;
    let scales = if s_min == s_max {
        let step = ((s_min + 4) / 8).min(32);
        [s_min.saturating_sub(step), s_min, s_min + step]
    } else {
        [s_min, (s_min + s_max) / 2, s_max]
    };
    let mut q: Vec<u32> = scales.iter().map(|&s| s.max(input_size)).collect();
    q.dedup();
    q
}

/// The middle of [`default_scales`]: S for a single-scale net, (Smin+Smax)/2 otherwise
/// (the paper's single-scale Q for jittered nets is 384 = (256+512)/2).
pub fn single_scale(train_scale: [u32; 2]) -> u32 {
    (train_scale[0] + train_scale[1]) / 2
}

/// Checks user-given scales: each at least the training input size.
pub fn check_scales(scales: &[u32], input_size: u32) -> Result<()> {
    if scales.is_empty() || scales.iter().any(|&q| q < input_size) {
        return Err(Error::InvalidArgument {
            op: "test scales",
            message: format!(
                "every test scale Q must be at least the training size {input_size}, got {scales:?}"
            ),
        });
    }
    Ok(())
}

/// `n` positions from 0 to `span`, evenly spaced and rounded: the first and last
/// windows touch opposite borders.
fn spaced(span: u32, n: u32) -> impl Iterator<Item = u32> {
    (0..n).map(move |i| {
        if n == 1 {
            span / 2
        } else {
            ((i as u64 * span as u64 * 2 + (n as u64 - 1)) / (2 * (n as u64 - 1))) as u32
        }
    })
}

/// Top-left corners of the paper's 5×5 grid of `crop`×`crop` windows over a
/// `width`×`height` image, row by row, from corner to corner. Each is taken with and
/// without a horizontal flip: 50 crops per scale.
pub fn crop_grid(width: u32, height: u32, crop: u32) -> Vec<(u32, u32)> {
    const GRID: u32 = 5;
    let ys: Vec<u32> = spaced(height.saturating_sub(crop), GRID).collect();
    ys.iter()
        .flat_map(|&y| spaced(width.saturating_sub(crop), GRID).map(move |x| (x, y)))
        .collect()
}

/// The element-wise mean of several posteriors (or feature vectors) of equal length.
pub fn mean(rows: &[Vec<f32>]) -> Vec<f32> {
    let n = rows.len().max(1) as f64;
    let len = rows.first().map_or(0, Vec::len);
    (0..len)
        .map(|i| (rows.iter().map(|r| r[i] as f64).sum::<f64>() / n) as f32)
        .collect()
}

/// The mean of the rows of `flat`, each `len` long: a batch's posteriors (or
/// features) averaged over its images.
pub fn mean_of_rows(flat: &[f32], len: usize) -> Vec<f32> {
    let rows: Vec<Vec<f32>> = flat.chunks(len.max(1)).map(<[f32]>::to_vec).collect();
    mean(&rows)
}

/// The `k` most probable classes, most probable first (ties: lower index first).
/// Non-finite values rank below every finite one: `total_cmp` alone would put a NaN
/// first, and a broken network would then name a class with confidence.
pub fn top_k(posterior: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..posterior.len()).collect();
    let rank = |i: usize| (posterior[i].is_finite(), posterior[i]);
    order.sort_by(|&a, &b| {
        let ((fa, pa), (fb, pb)) = (rank(a), rank(b));
        fb.cmp(&fa).then(pb.total_cmp(&pa)).then(a.cmp(&b))
    });
    order.truncate(k);
    order
}

/// Top-1 and top-5 error counts of one protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub images: usize,
    pub top1_errors: usize,
    pub top5_errors: usize,
    /// Images whose posterior held a NaN or an infinity (each also counted as a top-1
    /// and a top-5 error).
    pub non_finite: usize,
}

impl Tally {
    /// Counts one image: the error is top-k when `label` is not among the k classes of
    /// highest posterior (ties counted in the label's favour). A posterior with a
    /// non-finite value is an error whatever its label's value: nothing compares
    /// greater than a NaN, so counting classes above the label would call it right.
    pub fn add(&mut self, posterior: &[f32], label: usize) {
        self.images += 1;
        if posterior.iter().any(|p| !p.is_finite()) {
            self.non_finite += 1;
            self.top1_errors += 1;
            self.top5_errors += 1;
            return;
        }
        let above = posterior.iter().filter(|&&p| p > posterior[label]).count();
        self.top1_errors += (above >= 1) as usize;
        self.top5_errors += (above >= 5) as usize;
    }

    /// Errors in percent: (top-1, top-5).
    pub fn percent(&self) -> (f64, f64) {
        let n = self.images.max(1) as f64;
        (
            100.0 * self.top1_errors as f64 / n,
            100.0 * self.top5_errors as f64 / n,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_scales() {
        assert_eq!(default_scales([256, 256], 224), [224, 256, 288]);
        assert_eq!(default_scales([384, 384], 224), [352, 384, 416]);
        assert_eq!(default_scales([256, 512], 224), [256, 384, 512]);
        // A tiny net trained at S = 36 on 32-pixel crops: d = S/8 ≈ 5.
        assert_eq!(default_scales([36, 36], 32), [32, 36, 41]);
        assert_eq!(default_scales([32, 32], 32), [32, 36]);
        assert_eq!(single_scale([256, 512]), 384);
        assert!(check_scales(&[31, 64], 32).is_err());
        assert!(check_scales(&[], 32).is_err());
        assert!(check_scales(&[32, 64], 32).is_ok());
    }

    #[test]
    fn crops_span_the_image_corner_to_corner() {
        // 256×341 (a 4:3 image at Q = 256), 224 crops: x in 0..=117, y in 0..=32.
        let grid = crop_grid(341, 256, 224);
        assert_eq!(grid.len() * 2, 50, "25 windows × 2 flips");
        let xs: Vec<u32> = grid[..5].iter().map(|p| p.0).collect();
        let ys: Vec<u32> = grid.iter().step_by(5).map(|p| p.1).collect();
        assert_eq!(xs, [0, 29, 59, 88, 117]);
        assert_eq!(ys, [0, 8, 16, 24, 32]);
        for (i, &corner) in grid.iter().enumerate() {
            assert_eq!(corner, (xs[i % 5], ys[i / 5]));
        }
        // A square image of the crop size: all 25 windows coincide.
        assert!(crop_grid(32, 32, 32).iter().all(|&p| p == (0, 0)));
    }

    #[test]
    fn tally_counts_top1_and_top5() {
        let mut t = Tally::default();
        let p = [0.05, 0.3, 0.2, 0.1, 0.09, 0.08, 0.07, 0.11];
        t.add(&p, 1); // right
        t.add(&p, 7); // third: top-1 error only
        t.add(&p, 0); // eighth: both
        assert_eq!(
            t,
            Tally {
                images: 3,
                top1_errors: 2,
                top5_errors: 1,
                non_finite: 0,
            }
        );
        assert_eq!(top_k(&p, 3), [1, 2, 7]);
        assert_eq!(mean(&[vec![1.0, 0.0], vec![0.0, 0.5]]), [0.5, 0.25]);
    }

    /// A diverged model's posteriors are all NaN: it used to score 0% error.
    #[test]
    fn non_finite_posteriors_are_never_right() {
        let mut t = Tally::default();
        t.add(&[f32::NAN; 4], 2);
        t.add(&[0.1, f32::NAN, 0.7, 0.2], 2);
        t.add(&[0.1, f32::INFINITY, 0.7, 0.2], 2);
        assert_eq!(
            t,
            Tally {
                images: 3,
                top1_errors: 3,
                top5_errors: 3,
                non_finite: 3,
            }
        );
        assert_eq!(top_k(&[f32::NAN, 0.2, f32::INFINITY, 0.5], 4), [3, 1, 0, 2]);
    }
}
