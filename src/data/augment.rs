//! The paper's training augmentation (Section 3.1) and the plain evaluation transform,
//! from an RGB image to an f32 tensor `(3, crop, crop)`.
//!
//! Training, per image:
//! 1. isotropic rescale so the smallest side is S, S fixed or drawn from [Smin, Smax];
//! 2. a random `crop`×`crop` window;
//! 3. a random horizontal flip;
//! 4. AlexNet's colour shift: `sum_k alpha_k * lambda_k * p_k` added to every pixel, with
//!    `alpha_k ~ N(0, 0.1)` and `(lambda_k, p_k)` the principal components of the
//!    training set's pixel colours;
//! 5. [`Preprocessing`]: for nets trained here, subtract the training set's mean RGB.
//!
//! Every random choice comes from a generator keyed by `(seed, epoch, image index)`,
//! so a sample is the same whichever thread prepares it and in whatever order.
//!
//! Evaluation: rescale the smallest side to Q, take the centre `crop`×`crop`.
//!
//! Resizing is bilinear: `image`'s Triangle filter, which widens its support when
//! shrinking (like PIL's antialiased bilinear), so downscaled images do not alias.

use image::imageops::{self, FilterType};
use image::RgbImage;

use super::colour_stats::ColourStats;
use super::preprocessing::Preprocessing;
use super::rng::Rng;
use crate::error::{Error, Result};

/// Domain tag that keeps these streams apart from every other use of the seed.
const TAG: u64 = 0x4155_474D; // "AUGM"

/// AlexNet's PCA colour noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColourNoise {
    /// Of the covariance of colours in 0..1 units, descending.
    pub eigenvalues: [f32; 3],
    /// `eigenvectors[k]` belongs to `eigenvalues[k]`.
    pub eigenvectors: [[f32; 3]; 3],
    /// Standard deviation of each `alpha_k` (AlexNet: 0.1).
    pub std: f32,
}

impl ColourNoise {
    pub fn new(stats: &ColourStats, std: f32) -> ColourNoise {
        ColourNoise {
            eigenvalues: stats.eigenvalues,
            eigenvectors: stats.eigenvectors,
            std,
        }
    }

    /// The shift added to every pixel, in 0..255 pixel units:
    /// `255 * sum_k alpha_k * lambda_k * p_k`. The eigenvalues are in 0..1 units (as in
    /// AlexNet's and fb.resnet.torch's code), hence the 255 back to pixel units.
    pub fn shift(&self, alpha: [f32; 3]) -> [f32; 3] {
        [0, 1, 2].map(|c| {
            255.0
                * (0..3)
                    .map(|k| alpha[k] * self.eigenvalues[k] * self.eigenvectors[k][c])
                    .sum::<f32>()
        })
    }
}

/// Training augmentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainAugment {
    /// Smallest side S after rescaling, uniform in `s_min..=s_max` (equal: single scale).
    pub s_min: u32,
    pub s_max: u32,
    /// Side of the square crop, at most `s_min`.
    pub crop: u32,
    pub flip: bool,
    pub colour: Option<ColourNoise>,
    pub preprocessing: Preprocessing,
}

/// The random choices for one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentParams {
    /// Smallest side after rescaling.
    pub s: u32,
    /// Top-left corner of the crop in the rescaled image.
    pub x: u32,
    pub y: u32,
    pub flip: bool,
    /// Colour-noise coefficients, one per principal component.
    pub alpha: [f32; 3],
}

/// Width and height after an isotropic rescale that makes the smallest side `smallest`.
pub fn rescaled_size(width: u32, height: u32, smallest: u32) -> (u32, u32) {
    let scale = |long: u32, short: u32| {
        ((long as u64 * smallest as u64 + short as u64 / 2) / short as u64) as u32
    };
    if width <= height {
        (smallest, scale(height, width))
    } else {
        (scale(width, height), smallest)
    }
}

fn check_image(image: &RgbImage) -> Result<()> {
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::Shape {
            op: "augment",
            message: "the image is empty (0 pixels wide or high)".into(),
        });
    }
    Ok(())
}

/// Rescales, crops `crop`×`crop` at `(x, y)` of the rescaled image, optionally mirrors,
/// and writes `x = p * a[c] + b[c]` into `out`.
///
/// # Shapes
/// `out`: (3, crop, crop), channel planes RGB.
fn rescale_crop(
    image: &RgbImage,
    smallest: u32,
    (x0, y0): (u32, u32),
    crop: u32,
    flip: bool,
    affine: [(f32, f32); 3],
    out: &mut [f32],
) -> Result<()> {
    let plane = (crop * crop) as usize;
    if out.len() != 3 * plane {
        return Err(Error::Shape {
            op: "augment",
            message: format!(
                "tensor 'out' has {} values, expected (3, {crop}, {crop})",
                out.len()
            ),
        });
    }
    let (w, h) = rescaled_size(image.width(), image.height(), smallest);
    let resized;
    let src = if (w, h) == image.dimensions() {
        image
    } else {
        resized = imageops::resize(image, w, h, FilterType::Triangle);
        &resized
    };
    // src: (h, w, 3) bytes
    let raw = src.as_raw();
    for y in 0..crop {
        let row = ((y0 + y) * w) as usize;
        for x in 0..crop {
            let sx = if flip { x0 + crop - 1 - x } else { x0 + x };
            let p = &raw[(row + sx as usize) * 3..][..3];
            let o = (y * crop + x) as usize;
            for c in 0..3 {
                out[c * plane + o] = p[c] as f32 * affine[c].0 + affine[c].1;
            }
        }
    }
    Ok(())
}

impl TrainAugment {
    /// The paper's recipe: S in `s_min..=s_max`, `crop`×`crop` crops, flips, colour noise
    /// with std 0.1, and the training mean subtracted.
    pub fn paper(stats: &ColourStats, s_min: u32, s_max: u32, crop: u32) -> Result<TrainAugment> {
        let augment = TrainAugment {
            s_min,
            s_max,
            crop,
            flip: true,
            colour: Some(ColourNoise::new(stats, 0.1)),
            preprocessing: Preprocessing::mean_only(stats.mean),
        };
        augment.check()?;
        Ok(augment)
    }

    /// Checks `0 < crop <= s_min <= s_max`.
    pub fn check(&self) -> Result<()> {
        if self.crop == 0 || self.crop > self.s_min || self.s_min > self.s_max {
            return Err(Error::InvalidArgument {
                op: "augment",
                message: format!(
                    "need 0 < crop <= S_min <= S_max, got crop {}, S in [{}, {}]",
                    self.crop, self.s_min, self.s_max
                ),
            });
        }
        Ok(())
    }

    /// The random choices for image `index` (of size `width`×`height`) in `epoch`.
    pub fn params(
        &self,
        seed: u64,
        epoch: u64,
        index: usize,
        width: u32,
        height: u32,
    ) -> AugmentParams {
        let mut rng = Rng::from_key(&[TAG, seed, epoch, index as u64]);
        let s = rng.range_inclusive(self.s_min, self.s_max.max(self.s_min));
        let (w, h) = rescaled_size(width.max(1), height.max(1), s);
        let x = rng.range_inclusive(0, w.saturating_sub(self.crop));
        let y = rng.range_inclusive(0, h.saturating_sub(self.crop));
        let flip = self.flip && rng.coin();
        let std = self.colour.map(|c| c.std).unwrap_or(0.0);
        let alpha = [0; 3].map(|_: u8| std * rng.normal());
        AugmentParams {
            s,
            x,
            y,
            flip,
            alpha,
        }
    }

    /// Applies the choices `params` to `image`.
    ///
    /// # Shapes
    /// `out`: (3, crop, crop).
    pub fn apply_with(
        &self,
        image: &RgbImage,
        params: &AugmentParams,
        out: &mut [f32],
    ) -> Result<()> {
        check_image(image)?;
        self.check()?;
        let shift = match &self.colour {
            Some(noise) => noise.shift(params.alpha),
            None => [0.0; 3],
        };
        let affine = self.preprocessing.affine(shift);
        rescale_crop(
            image,
            params.s,
            (params.x, params.y),
            self.crop,
            params.flip,
            affine,
            out,
        )
    }

    /// Augments image `index` for `epoch`.
    ///
    /// # Shapes
    /// `out`: (3, crop, crop).
    pub fn apply(
        &self,
        image: &RgbImage,
        seed: u64,
        epoch: u64,
        index: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let params = self.params(seed, epoch, index, image.width(), image.height());
        self.apply_with(image, &params, out)
    }
}

/// Evaluation: rescale the smallest side to `q`, take the centre `crop`×`crop`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalTransform {
    pub q: u32,
    pub crop: u32,
    pub preprocessing: Preprocessing,
}

impl EvalTransform {
    /// # Shapes
    /// `out`: (3, crop, crop).
    pub fn apply(&self, image: &RgbImage, out: &mut [f32]) -> Result<()> {
        check_image(image)?;
        if self.crop == 0 || self.crop > self.q {
            return Err(Error::InvalidArgument {
                op: "eval transform",
                message: format!(
                    "need 0 < crop <= Q, got crop {} and Q {}",
                    self.crop, self.q
                ),
            });
        }
        let (w, h) = rescaled_size(image.width(), image.height(), self.q);
        let corner = ((w - self.crop) / 2, (h - self.crop) / 2);
        let affine = self.preprocessing.affine([0.0; 3]);
        rescale_crop(image, self.q, corner, self.crop, false, affine, out)
    }
}

/// What the loader applies to each image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transform {
    Train(TrainAugment),
    Eval(EvalTransform),
}

impl Transform {
    /// Side of the output images.
    pub fn crop(&self) -> u32 {
        match self {
            Transform::Train(t) => t.crop,
            Transform::Eval(t) => t.crop,
        }
    }

    /// # Shapes
    /// `out`: (3, crop, crop).
    pub fn apply(
        &self,
        image: &RgbImage,
        seed: u64,
        epoch: u64,
        index: usize,
        out: &mut [f32],
    ) -> Result<()> {
        match self {
            Transform::Train(t) => t.apply(image, seed, epoch, index, out),
            Transform::Eval(t) => t.apply(image, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    fn plain(s_min: u32, s_max: u32, crop: u32) -> TrainAugment {
        TrainAugment {
            s_min,
            s_max,
            crop,
            flip: true,
            colour: None,
            preprocessing: Preprocessing::mean_only([0.0; 3]),
        }
    }

    #[test]
    fn rescaled_size_keeps_aspect() {
        assert_eq!(rescaled_size(500, 375, 256), (341, 256));
        assert_eq!(rescaled_size(375, 500, 256), (256, 341));
        assert_eq!(rescaled_size(32, 32, 40), (40, 40));
        assert_eq!(rescaled_size(100, 1, 2), (200, 2));
    }

    #[test]
    fn output_has_crop_size_and_rejects_wrong_buffers() {
        let t = plain(40, 48, 32);
        let img = gradient(50, 70);
        let mut out = vec![f32::NAN; 3 * 32 * 32];
        t.apply(&img, 1, 0, 5, &mut out).unwrap();
        assert!(out
            .iter()
            .all(|v| v.is_finite() && (0.0..=255.0).contains(v)));
        let mut short = vec![0.0; 3 * 32 * 31];
        assert!(t.apply(&img, 1, 0, 5, &mut short).is_err());
        assert!(plain(30, 48, 32).check().is_err(), "crop larger than S_min");
    }

    #[test]
    fn crop_copies_the_right_window() {
        // S equal to the smallest side: no resampling, so the crop is exact.
        let img = gradient(40, 36);
        let t = plain(36, 36, 32);
        let params = AugmentParams {
            s: 36,
            x: 5,
            y: 3,
            flip: false,
            alpha: [0.0; 3],
        };
        let mut out = vec![0.0; 3 * 32 * 32];
        t.apply_with(&img, &params, &mut out).unwrap();
        for (y, x) in [(0, 0), (7, 19), (31, 31)] {
            let p = img.get_pixel(5 + x, 3 + y).0;
            for c in 0..3 {
                assert_eq!(out[c * 1024 + (y * 32 + x) as usize], p[c] as f32);
            }
        }
    }

    #[test]
    fn flip_mirrors_the_crop() {
        let img = gradient(45, 40);
        let t = plain(40, 40, 32);
        let mut params = AugmentParams {
            s: 40,
            x: 4,
            y: 2,
            flip: false,
            alpha: [0.0; 3],
        };
        let mut straight = vec![0.0; 3 * 32 * 32];
        let mut mirrored = vec![0.0; 3 * 32 * 32];
        t.apply_with(&img, &params, &mut straight).unwrap();
        params.flip = true;
        t.apply_with(&img, &params, &mut mirrored).unwrap();
        assert_ne!(straight, mirrored);
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let at = |x: usize| c * 1024 + y * 32 + x;
                    assert_eq!(mirrored[at(x)], straight[at(31 - x)], "c {c} y {y} x {x}");
                }
            }
        }
    }

    #[test]
    fn scale_jitter_stays_in_range_and_covers_it() {
        let t = plain(256, 512, 224);
        let mut seen_min = u32::MAX;
        let mut seen_max = 0;
        let mut flips = 0;
        for i in 0..2000 {
            let p = t.params(3, 1, i, 500, 375);
            assert!((256..=512).contains(&p.s), "S = {}", p.s);
            let (w, h) = rescaled_size(500, 375, p.s);
            assert!(
                p.x + 224 <= w && p.y + 224 <= h,
                "crop {p:?} outside {w}x{h}"
            );
            seen_min = seen_min.min(p.s);
            seen_max = seen_max.max(p.s);
            flips += p.flip as usize;
        }
        assert!(
            seen_min < 262 && seen_max > 506,
            "S range seen: {seen_min}..{seen_max}"
        );
        assert!((900..1100).contains(&flips), "{flips} flips of 2000");
        let fixed = plain(256, 256, 224);
        assert!((0..100).all(|i| fixed.params(0, 0, i, 500, 375).s == 256));
    }

    #[test]
    fn deterministic_per_seed_epoch_index() {
        let stats = ColourStats {
            mean: [120.0, 115.0, 100.0],
            covariance: [[0.0; 3]; 3],
            eigenvalues: [0.2, 0.02, 0.005],
            eigenvectors: [[0.58, 0.58, 0.58], [-0.7, 0.0, 0.7], [0.41, -0.82, 0.41]],
            images: 1,
        };
        let t = TrainAugment::paper(&stats, 36, 44, 32).unwrap();
        let img = gradient(48, 40);
        let run = |seed, epoch, index| {
            let mut out = vec![0.0; 3 * 32 * 32];
            t.apply(&img, seed, epoch, index, &mut out).unwrap();
            out
        };
        assert_eq!(run(1, 2, 3), run(1, 2, 3));
        assert_ne!(run(1, 2, 3), run(1, 2, 4));
        assert_ne!(run(1, 2, 3), run(1, 3, 3));
        assert_ne!(run(1, 2, 3), run(2, 2, 3));
    }

    #[test]
    fn colour_shift_follows_the_principal_components() {
        let noise = ColourNoise {
            eigenvalues: [0.2, 0.02, 0.0],
            eigenvectors: [[0.6, 0.0, 0.8], [0.0, 1.0, 0.0], [0.8, 0.0, -0.6]],
            std: 0.1,
        };
        // alpha = (0.1, 0, 0): shift = 255 * 0.1 * 0.2 * p_0
        let s = noise.shift([0.1, 0.0, 0.0]);
        let want = [255.0 * 0.02 * 0.6, 0.0, 255.0 * 0.02 * 0.8];
        for c in 0..3 {
            assert!((s[c] - want[c]).abs() < 1e-4, "{s:?} vs {want:?}");
        }
        // The same shift reaches every pixel of the output.
        let t = TrainAugment {
            colour: Some(noise),
            ..plain(32, 32, 32)
        };
        let img = gradient(32, 32);
        let base = AugmentParams {
            s: 32,
            x: 0,
            y: 0,
            flip: false,
            alpha: [0.0; 3],
        };
        let shifted = AugmentParams {
            alpha: [0.1, 0.0, 0.0],
            ..base
        };
        let (mut a, mut b) = (vec![0.0; 3072], vec![0.0; 3072]);
        t.apply_with(&img, &base, &mut a).unwrap();
        t.apply_with(&img, &shifted, &mut b).unwrap();
        for i in 0..3072 {
            assert!((b[i] - a[i] - want[i / 1024]).abs() < 1e-3);
        }
    }

    #[test]
    fn eval_takes_the_centre() {
        let img = gradient(40, 36);
        let t = EvalTransform {
            q: 36,
            crop: 32,
            preprocessing: Preprocessing::mean_only([10.0, 20.0, 30.0]),
        };
        let mut out = vec![0.0; 3 * 32 * 32];
        t.apply(&img, &mut out).unwrap();
        // Corner (4, 2) of the 40x36 image is the crop's (0, 0).
        let p = img.get_pixel(4, 2).0;
        assert_eq!(
            [out[0], out[1024], out[2048]],
            [p[0] as f32 - 10.0, p[1] as f32 - 20.0, p[2] as f32 - 30.0]
        );
        // Downscaling keeps the shape.
        let big = EvalTransform {
            q: 24,
            crop: 20,
            ..t
        };
        let mut out = vec![0.0; 3 * 20 * 20];
        big.apply(&gradient(100, 60), &mut out).unwrap();
    }
}
