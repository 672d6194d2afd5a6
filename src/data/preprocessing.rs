//! How 8-bit pixels become network input, stored with a trained model so that
//! evaluation prepares images exactly as training did:
//!
//! ```text
//! x[c] = (p[c] * scale - mean[c]) / std[c]        p[c] in 0..=255
//! ```

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

    /// Per channel `(a, b)` with `x = p * a + b`, where the pixel `p` has been shifted by
    /// `shift[c]` (pixel units) first: the colour augmentation folded in.
    pub fn affine(&self, shift: [f32; 3]) -> [(f32, f32); 3] {
        [0, 1, 2].map(|c| {
            let a = self.scale / self.std[c];
            (a, (shift[c] * self.scale - self.mean[c]) / self.std[c])
        })
    }
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
}
