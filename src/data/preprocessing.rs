//! How 8-bit pixels become network input, stored with a trained model so that
//! evaluation prepares images exactly as training did:
//!
//! ```text
//! x[c] = (p[c] * scale - mean[c]) / std[c]        p[c] in 0..=255
//! ```

use crate::error::{Error, Result};

/// Per-channel normalisation, channels in RGB order.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocessing {
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub scale: f32,
}

impl Preprocessing {
    /// The paper's: subtract the training set's mean RGB (in 0..255 units), nothing else.
    pub fn mean_only(mean: [f32; 3]) -> Preprocessing {
        Preprocessing {
            mean,
            std: [1.0; 3],
            scale: 1.0,
        }
    }

    /// torchvision's ImageNet models: pixels to 0..1, then ImageNet's mean and std.
    pub const TORCHVISION: Preprocessing = Preprocessing {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        scale: 1.0 / 255.0,
    };

    /// Refuses a normalisation that cannot be right: a mean that is not finite, or a
    /// std or scale that is not positive and finite. Such a one divides by zero or
    /// turns every input into NaN or infinity, and the network then gives one confident
    /// answer to every image. Every place a preprocessing comes from calls this.
    pub fn check(&self, given: Given) -> Result<()> {
        let positive = |v: &f32| v.is_finite() && *v > 0.0;
        let (field, values, rule): (&str, &[f32], &str) =
            if !self.mean.iter().all(|v| v.is_finite()) {
                ("mean", &self.mean, "finite")
            } else if !self.std.iter().all(positive) {
                ("std", &self.std, "positive and finite")
            } else if !positive(&self.scale) {
                (
                    "scale",
                    std::slice::from_ref(&self.scale),
                    "positive and finite",
                )
            } else {
                return Ok(());
            };
        let values = format!("{values:?}");
        Err(match given {
            Given::Options => Error::InvalidArgument {
                op: match field {
                    "mean" => "--mean",
                    "std" => "--std",
                    _ => "--normalize",
                },
                message: format!(
                    "{values}: every value must be {rule}; give R,G,B in 0..255 pixel units, e.g. \
                     --mean 123.7,116.3,103.5 --std 58.4,57.1,57.4 (ImageNet's)"
                ),
            },
            Given::Metadata(path) => Error::WeightFile {
                path: path.to_string(),
                message: format!(
                    "has metadata whose preprocessing.{field} is {values}: every value must be {rule}. \
                     This program writes no such file: it was edited or damaged"
                ),
            },
            Given::TrainingImages => Error::InvalidArgument {
                op: "--normalize",
                message: format!(
                    "the training images' per-channel {field} is {values}, which cannot divide the inputs \
                     (every value must be {rule}): a channel that never varies; use --normalize mean"
                ),
            },
        })
    }

    /// Per channel `(a, b)` with `x = p * a + b`, where the pixel `p` has been shifted by
    /// `shift[c]` (pixel units) first: the colour augmentation folded in.
    pub fn affine(&self, shift: [f32; 3]) -> [(f32, f32); 3] {
        [0, 1, 2].map(|c| {
            let a = self.scale / self.std[c];
            (a, (shift[c] * self.scale - self.mean[c]) / self.std[c])
        })
    }
}

/// Where a preprocessing came from, so that a refusal names it as the user knows it.
#[derive(Clone, Copy, Debug)]
pub enum Given<'a> {
    /// Options of a command: --mean and --std.
    Options,
    /// The metadata of this weight file (or checkpoint).
    Metadata(&'a str),
    /// The training images' colour statistics (`train --normalize mean-std`).
    TrainingImages,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_matches_the_formula() {
        let p = Preprocessing::TORCHVISION;
        let shift = [3.0, -2.0, 0.5];
        for (c, (a, b)) in p.affine(shift).into_iter().enumerate() {
            let pixel = 200.0f32;
            let direct = ((pixel + shift[c]) * p.scale - p.mean[c]) / p.std[c];
            assert!((pixel * a + b - direct).abs() < 1e-5);
        }
        let m = Preprocessing::mean_only([120.0, 110.0, 100.0]);
        assert_eq!(
            m.affine([0.0; 3]),
            [(1.0, -120.0), (1.0, -110.0), (1.0, -100.0)]
        );
    }

    #[test]
    fn a_normalisation_that_cannot_be_right_is_refused_naming_its_origin() {
        assert!(Preprocessing::TORCHVISION.check(Given::Options).is_ok());
        assert!(Preprocessing::mean_only([-5.0, 0.0, 300.0])
            .check(Given::Options)
            .is_ok());
        let nan_mean = Preprocessing::mean_only([f32::NAN, 1.0, 1.0]);
        let message = nan_mean.check(Given::Options).unwrap_err().to_string();
        assert!(message.starts_with("--mean: [NaN, 1.0, 1.0]"), "{message}");
        let infinite_mean = Preprocessing::mean_only([f32::INFINITY, 0.0, 0.0]);
        assert!(infinite_mean.check(Given::Options).is_err());
        for std in [
            [0.0; 3],
            [1.0, -1.0, 1.0],
            [1.0, 1.0, f32::NAN],
            [f32::INFINITY; 3],
        ] {
            let p = Preprocessing {
                std,
                ..Preprocessing::TORCHVISION
            };
            let message = p
                .check(Given::Metadata("m.safetensors"))
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("'m.safetensors'") && message.contains("preprocessing.std"),
                "{message}"
            );
            let message = p.check(Given::TrainingImages).unwrap_err().to_string();
            assert!(message.starts_with("--normalize: "), "{message}");
        }
        for scale in [0.0, -1.0, f32::NAN] {
            let p = Preprocessing {
                scale,
                ..Preprocessing::TORCHVISION
            };
            let message = p.check(Given::Metadata("m")).unwrap_err().to_string();
            assert!(message.contains("preprocessing.scale"), "{message}");
        }
    }
}
