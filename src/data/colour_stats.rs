//! The training set's colour statistics: the mean RGB the paper subtracts, and the
//! principal components of pixel colours that AlexNet's colour augmentation follows.
//! Both come from one pass over a sample of training images.

use super::dataset::Dataset;
use super::eigen::{symmetric_eigen, Matrix3};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColourStats {
    /// Mean pixel colour, RGB, in 0..255 units.
    pub mean: [f32; 3],
    /// Covariance of pixel colours scaled to 0..1, (3, 3).
    pub covariance: Matrix3,
    /// Eigenvalues of `covariance`, descending (0..1 units, as AlexNet's).
    pub eigenvalues: [f32; 3],
    /// `eigenvectors[k]`: the unit RGB direction of `eigenvalues[k]`.
    pub eigenvectors: [[f32; 3]; 3],
    /// How many images the statistics were computed from.
    pub images: usize,
}

impl ColourStats {
    /// How many images [`ColourStats::estimate`] is usually given.
    pub const DEFAULT_SAMPLE: usize = 1000;

    /// Statistics over all pixels of up to `max_images` images, evenly spaced through the
    /// data set (deterministic). Images the source skips ([`Error::BadImage`]) are left out.
    pub fn estimate(dataset: &dyn Dataset, max_images: usize) -> Result<ColourStats> {
        let n = max_images.min(dataset.len());
        let mut sum = [0f64; 3]; // sum of x
        let mut outer = [[0f64; 3]; 3]; // sum of x x^T
        let mut pixels = 0u64;
        let mut images = 0;
        for k in 0..n {
            let image = match dataset.image(k * dataset.len() / n) {
                Ok(image) => image,
                Err(Error::BadImage { .. }) => continue,
                Err(e) => return Err(e),
            };
            for p in image.pixels() {
                let x = p.0.map(|v| v as f64 / 255.0);
                for i in 0..3 {
                    sum[i] += x[i];
                    for j in i..3 {
                        outer[i][j] += x[i] * x[j];
                    }
                }
            }
            pixels += image.pixels().len() as u64;
            images += 1;
        }
        if pixels == 0 {
            return Err(Error::InvalidArgument {
                op: "colour statistics",
                message: format!(
                    "no readable pixels in the {n} images sampled from the training set"
                ),
            });
        }

        let count = pixels as f64;
        let mean = sum.map(|s| s / count);
        let mut covariance = [[0f64; 3]; 3];
        for i in 0..3 {
            for j in i..3 {
                covariance[i][j] = outer[i][j] / count - mean[i] * mean[j];
                covariance[j][i] = covariance[i][j];
            }
        }
        let eigen = symmetric_eigen(&covariance);
        Ok(ColourStats {
            mean: mean.map(|m| (m * 255.0) as f32),
            covariance,
            eigenvalues: eigen.values.map(|v| v.max(0.0) as f32),
            eigenvectors: eigen.vectors.map(|v| v.map(|x| x as f32)),
            images,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Split, SyntheticDataset};

    #[test]
    fn synthetic_statistics_are_sane() {
        let d = SyntheticDataset::new(0, Split::Train, 200, 32).unwrap();
        let s = ColourStats::estimate(&d, 100).unwrap();
        assert_eq!(s.images, 100);
        for c in 0..3 {
            assert!(s.mean[c] > 60.0 && s.mean[c] < 200.0, "mean {:?}", s.mean);
        }
        // Random colours: every channel varies, so every eigenvalue is positive.
        assert!(
            s.eigenvalues[2] > 0.0 && s.eigenvalues[0] < 0.25,
            "{:?}",
            s.eigenvalues
        );
        let trace = s.covariance[0][0] + s.covariance[1][1] + s.covariance[2][2];
        let sum: f32 = s.eigenvalues.iter().sum();
        assert!(
            (trace as f32 - sum).abs() < 1e-5,
            "trace {trace} vs eigenvalue sum {sum}"
        );
    }
}
