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
mod tests;
