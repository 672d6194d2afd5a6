//! Test images as network input: the whole image isotropically rescaled so its smallest
//! side is Q (bilinear, antialiased when shrinking, as in training), normalised with the
//! model's preprocessing; its mirror; windows cut from it.
//!
//! Images smaller than the training size are simply upscaled to Q like any other (Q
//! itself is never below the training size: see `protocol::check_scales`).

use image::imageops::{self, FilterType};
use image::RgbImage;

use crate::data::augment::rescaled_size;
use crate::data::Preprocessing;
use crate::error::{Error, Result};

/// An image as network input.
#[derive(Clone, Debug, PartialEq)]
pub struct Planes {
    /// (3, height, width), channel planes RGB.
    pub data: Vec<f32>,
    pub height: usize,
    pub width: usize,
}

impl Planes {
    /// `image` rescaled to smallest side `q` and normalised.
    pub fn rescaled(image: &RgbImage, q: u32, preprocessing: &Preprocessing) -> Result<Planes> {
        if image.width() == 0 || image.height() == 0 || q == 0 {
            return Err(Error::Shape {
                op: "test image",
                message: format!(
                    "cannot rescale a {}×{} image to smallest side {q}",
                    image.width(),
                    image.height()
                ),
            });
        }
        let (w, h) = rescaled_size(image.width(), image.height(), q);
        let resized;
        let src = if (w, h) == image.dimensions() {
            image
        } else {
            resized = imageops::resize(image, w, h, FilterType::Triangle);
            &resized
        };
        let affine = preprocessing.affine([0.0; 3]);
        let plane = (w * h) as usize;
        let mut data = vec![0f32; 3 * plane];
        for (i, p) in src.pixels().enumerate() {
            for c in 0..3 {
                data[c * plane + i] = p[c] as f32 * affine[c].0 + affine[c].1;
            }
        }
        Ok(Planes {
            data,
            height: h as usize,
            width: w as usize,
        })
    }

    /// The horizontal mirror image.
    pub fn mirrored(&self) -> Planes {
        let data = self
            .data
            .chunks(self.width)
            .flat_map(|row| row.iter().rev().copied())
            .collect();
        Planes { data, ..*self }
    }

    /// Dense evaluation's batch: the image, then its mirror image when `flip`
    /// ((1 + flip, 3, height, width)).
    pub fn dense_batch(&self, flip: bool) -> Vec<f32> {
        let mut batch = self.data.clone();
        if flip {
            batch.extend(self.mirrored().data);
        }
        batch
    }

    /// The `size`×`size` window with top-left corner (x, y), mirrored when `flip`,
    /// appended to `out` as (3, size, size).
    pub fn crop_into(&self, (x, y): (u32, u32), size: usize, flip: bool, out: &mut Vec<f32>) {
        let (x, y) = (x as usize, y as usize);
        for c in 0..3 {
            for row in y..y + size {
                let start = (c * self.height + row) * self.width + x;
                let window = &self.data[start..start + size];
                if flip {
                    out.extend(window.iter().rev());
                } else {
                    out.extend_from_slice(window);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn rescale_mirror_and_crop() {
        let image = RgbImage::from_fn(4, 2, |x, y| Rgb([(x + 4 * y) as u8, 0, 255]));
        let p = Planes::rescaled(&image, 2, &Preprocessing::mean_only([1.0, 0.0, 5.0])).unwrap();
        assert_eq!((p.height, p.width), (2, 4));
        assert_eq!(&p.data[..8], &[-1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(p.data[16], 250.0);
        let m = p.mirrored();
        assert_eq!(&m.data[..8], &[2.0, 1.0, 0.0, -1.0, 6.0, 5.0, 4.0, 3.0]);
        assert_eq!(m.mirrored(), p);
        let mut out = Vec::new();
        p.crop_into((1, 0), 2, false, &mut out);
        assert_eq!(&out[..4], &[0.0, 1.0, 4.0, 5.0]);
        out.clear();
        p.crop_into((1, 0), 2, true, &mut out);
        assert_eq!(&out[..4], &[1.0, 0.0, 5.0, 4.0]);
        assert_eq!(out.len(), 12);
        // A small image is upscaled to Q.
        let up = Planes::rescaled(&image, 6, &Preprocessing::TORCHVISION).unwrap();
        assert_eq!((up.height, up.width), (6, 12));
    }
}
