//! A class score map drawn over its image: the map stretched to the image's size
//! (bilinear), normalised to its own range, colour-mapped from blue (low) through green
//! to red (high), and alpha-blended half and half with the image.
//!
//! Map cell (i, j) scores the training-size window at (32·j, 32·i) of the rescaled
//! image; stretching the map over the whole image is an approximation of that layout.
//!
//! [`heatmap_files`] names the file of each image's overlay.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, Rgb, RgbImage};

/// The overlay. `map` is one class's (height, width) plane.
pub fn overlay(image: &RgbImage, map: &[f32], height: usize, width: usize) -> RgbImage {
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let range = (hi - lo).max(f32::MIN_POSITIVE);
    let small = GrayImage::from_fn(width as u32, height as u32, |x, y| {
        let v = (map[y as usize * width + x as usize] - lo) / range;
        Luma([(v * 255.0).round() as u8])
    });
    let heat = imageops::resize(&small, image.width(), image.height(), FilterType::Triangle);
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let colour = colour_map(heat.get_pixel(x, y)[0] as f32 / 255.0);
        let p = image.get_pixel(x, y);
        Rgb([0, 1, 2].map(|c| ((p[c] as f32 + colour[c]) / 2.0).round() as u8))
    })
}

/// The file each image's heat map is written to, in the images' order: `out` itself
/// for one image; for several, `<out's name>-<image's name>.png` beside `out`, with
/// `-2`, `-3`, … added when an earlier image took that name (two x.png in different
/// folders, or one image given twice).
pub fn heatmap_files(out: &Path, images: &[PathBuf]) -> Vec<PathBuf> {
    if images.len() == 1 {
        return vec![out.to_path_buf()];
    }
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut taken = HashSet::new();
    images
        .iter()
        .map(|image| {
            let base = format!("{}-{}", stem(out), stem(image));
            let mut name = format!("{base}.png");
            let mut n = 1;
            while !taken.insert(name.clone()) {
                n += 1;
                name = format!("{base}-{n}.png");
            }
            out.with_file_name(name)
        })
        .collect()
}

/// Blue → cyan → green → yellow → red for v in 0..=1 (0..255 per channel).
fn colour_map(v: f32) -> [f32; 3] {
    let ramp = |centre: f32| (1.5 - (4.0 * v - centre).abs()).clamp(0.0, 1.0) * 255.0;
    [ramp(3.0), ramp(2.0), ramp(1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_cells_come_out_red() {
        let image = RgbImage::from_pixel(40, 20, Rgb([128, 128, 128]));
        let out = overlay(&image, &[0.0, 5.0], 1, 2);
        assert_eq!(out.dimensions(), (40, 20));
        let (left, right) = (out.get_pixel(0, 10), out.get_pixel(39, 10));
        assert!(left[2] > left[0], "cold side is blue: {left:?}");
        assert!(right[0] > right[2], "hot side is red: {right:?}");
        // A flat map does not divide by zero.
        let flat = overlay(&image, &[1.0; 4], 2, 2);
        assert_eq!(flat.dimensions(), (40, 20));
    }

    /// Two images named x.png in different folders wrote the same heat map.
    #[test]
    fn every_image_gets_its_own_heat_map_file() {
        let images: Vec<PathBuf> = ["cats/x.png", "dogs/x.png", "x.jpg", "y.png", "x-2.png"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let files = heatmap_files(Path::new("out/hm.png"), &images);
        let names: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "out/hm-x.png",
                "out/hm-x-2.png",
                "out/hm-x-3.png",
                "out/hm-y.png",
                "out/hm-x-2-2.png"
            ]
        );
        let one = heatmap_files(Path::new("hm.jpg"), &images[..1]);
        assert_eq!(one, [PathBuf::from("hm.jpg")]);
    }
}
