//! The built-in data set: ten classes of procedurally drawn shapes and patterns, so the
//! whole pipeline can be trained and tested without downloading anything.
//!
//! Image `i` of a split is a pure function of `(seed, split, i)`: it is drawn on demand
//! and never stored. Its label is `i % 10`, so every class has the same share of images.
//! Each image varies in position, scale, rotation, foreground and background colour
//! (at least 100 levels apart in RGB), a lighting gradient and Gaussian pixel noise.
//!
//! Every shape is a signed distance function in pixels (negative inside); a pixel's
//! coverage is `clamp(0.5 - d, 0, 1)`, which anti-aliases the edges.

use std::f32::consts::PI;

use image::{Rgb, RgbImage};

use super::dataset::{check_index, Dataset, Split, Splits};
use super::rng::Rng;
use crate::error::{Error, Result};

/// Label `l` is `CLASS_NAMES[l]`.
pub const CLASS_NAMES: [&str; 10] = [
    "circle",
    "ring",
    "square",
    "triangle",
    "cross",
    "horizontal stripes",
    "vertical stripes",
    "checkerboard",
    "diagonal line",
    "two dots",
];

/// Domain tag that keeps these streams apart from every other use of the seed.
const TAG: u64 = 0x5359_4E54; // "SYNT"

/// One split of the synthetic data set.
#[derive(Clone, Debug)]
pub struct SyntheticDataset {
    seed: u64,
    split: Split,
    count: usize,
    size: u32,
    class_names: Vec<String>,
}

impl SyntheticDataset {
    pub const DEFAULT_TRAIN: usize = 5000;
    pub const DEFAULT_VAL: usize = 1000;
    pub const DEFAULT_SIZE: u32 = 32;
    pub const MIN_SIZE: u32 = 16;
    pub const MAX_SIZE: u32 = 512;

    /// `count` images of `size`×`size` pixels.
    pub fn new(seed: u64, split: Split, count: usize, size: u32) -> Result<SyntheticDataset> {
        if !(Self::MIN_SIZE..=Self::MAX_SIZE).contains(&size) {
            return Err(Error::InvalidArgument {
                op: "synthetic data set",
                message: format!(
                    "image size {size} is out of range: choose {}..={} pixels",
                    Self::MIN_SIZE,
                    Self::MAX_SIZE
                ),
            });
        }
        Ok(SyntheticDataset {
            seed,
            split,
            count,
            size,
            class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Both splits; their images come from disjoint streams of the same seed.
    pub fn splits(
        seed: u64,
        train_count: usize,
        val_count: usize,
        size: u32,
    ) -> Result<Splits<Self>> {
        Ok(Splits {
            train: Self::new(seed, Split::Train, train_count, size)?,
            val: Self::new(seed, Split::Val, val_count, size)?,
        })
    }

    /// The default: 5000 train and 1000 val images of 32×32.
    pub fn default_splits(seed: u64) -> Splits<Self> {
        Splits {
            train: Self::new(seed, Split::Train, Self::DEFAULT_TRAIN, Self::DEFAULT_SIZE)
                .expect("default size is in range"),
            val: Self::new(seed, Split::Val, Self::DEFAULT_VAL, Self::DEFAULT_SIZE)
                .expect("default size is in range"),
        }
    }

    pub fn size(&self) -> u32 {
        self.size
    }
}

impl Dataset for SyntheticDataset {
    fn len(&self) -> usize {
        self.count
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn label(&self, index: usize) -> u32 {
        (index % CLASS_NAMES.len()) as u32
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        check_index("synthetic data set", index, self.count)?;
        let split = match self.split {
            Split::Train => 0,
            Split::Val => 1,
        };
        let mut rng = Rng::from_key(&[TAG, self.seed, split, index as u64]);
        Ok(draw(&mut rng, self.label(index) as usize, self.size))
    }
}

/// One randomly placed instance of a class, in pixel coordinates.
enum Shape {
    /// A compact object: `unit` is its distance function at radius 1, drawn at `centre`
    /// with radius `radius` pixels, turned by `angle` radians.
    Object {
        unit: fn(f32, f32) -> f32,
        centre: (f32, f32),
        radius: f32,
        angle: f32,
    },
    /// Parallel bands of width `period / 2` whose offset runs along direction `angle`.
    Stripes { angle: f32, period: f32, phase: f32 },
    /// Squares of side `cell`, grid turned by `angle`.
    Checker {
        angle: f32,
        cell: f32,
        phase: (f32, f32),
    },
    /// A band of half-width `half_width` through `point`, normal at `angle`.
    Line {
        point: (f32, f32),
        angle: f32,
        half_width: f32,
    },
    Dots {
        a: (f32, f32),
        b: (f32, f32),
        radius: f32,
    },
}

fn rotate((x, y): (f32, f32), angle: f32) -> (f32, f32) {
    let (s, c) = angle.sin_cos();
    (c * x - s * y, s * x + c * y)
}

fn length(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

/// Axis-aligned box of half-sizes `(bx, by)`.
fn sd_box(x: f32, y: f32, bx: f32, by: f32) -> f32 {
    let (qx, qy) = (x.abs() - bx, y.abs() - by);
    length(qx.max(0.0), qy.max(0.0)) + qx.max(qy).min(0.0)
}

fn sd_circle(x: f32, y: f32) -> f32 {
    length(x, y) - 1.0
}

fn sd_ring(x: f32, y: f32) -> f32 {
    (length(x, y) - 0.72).abs() - 0.28
}

fn sd_square(x: f32, y: f32) -> f32 {
    sd_box(x, y, 0.8, 0.8)
}

/// Equilateral triangle, circumradius about 1 (Inigo Quilez's formula).
fn sd_triangle(x: f32, y: f32) -> f32 {
    let r = 0.9;
    let k = 3f32.sqrt();
    let (mut px, mut py) = (x.abs() - r, y + r / k);
    if px + k * py > 0.0 {
        (px, py) = ((px - k * py) / 2.0, (-k * px - py) / 2.0);
    }
    px -= px.clamp(-2.0 * r, 0.0);
    -length(px, py) * py.signum()
}

fn sd_cross(x: f32, y: f32) -> f32 {
    sd_box(x, y, 0.95, 0.3).min(sd_box(x, y, 0.3, 0.95))
}

impl Shape {
    fn random(class: usize, rng: &mut Rng, size: f32) -> Shape {
        let deg = PI / 180.0;
        let object = |rng: &mut Rng, unit: fn(f32, f32) -> f32, turn: f32| {
            let radius = rng.uniform(0.2, 0.4) * size;
            let margin = 0.9 * radius;
            Shape::Object {
                unit,
                centre: (
                    rng.uniform(margin, size - margin),
                    rng.uniform(margin, size - margin),
                ),
                radius,
                angle: rng.uniform(0.0, turn),
            }
        };
        let stripes = |rng: &mut Rng, base: f32| Shape::Stripes {
            angle: base + rng.uniform(-15.0, 15.0) * deg,
            period: rng.uniform(0.14, 0.3) * size,
            phase: rng.uniform(0.0, size),
        };
        match class {
            0 => object(rng, sd_circle, 0.0),
            1 => object(rng, sd_ring, 0.0),
            2 => object(rng, sd_square, 90.0 * deg),
            3 => object(rng, sd_triangle, 120.0 * deg),
            4 => object(rng, sd_cross, 90.0 * deg),
            5 => stripes(rng, 90.0 * deg),
            6 => stripes(rng, 0.0),
            7 => Shape::Checker {
                angle: rng.uniform(-20.0, 20.0) * deg,
                cell: rng.uniform(0.12, 0.22) * size,
                phase: (rng.uniform(0.0, size), rng.uniform(0.0, size)),
            },
            8 => {
                let base = if rng.coin() { 45.0 } else { 135.0 };
                Shape::Line {
                    point: (rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size),
                    angle: (base + rng.uniform(-15.0, 15.0)) * deg,
                    half_width: rng.uniform(0.04, 0.09) * size,
                }
            }
            _ => {
                let radius = rng.uniform(0.08, 0.13) * size;
                let place = |rng: &mut Rng| {
                    (
                        rng.uniform(radius, size - radius),
                        rng.uniform(radius, size - radius),
                    )
                };
                let a = place(rng);
                let mut b = place(rng);
                // Keep the dots apart; give up after a few tries with the opposite corner.
                for _ in 0..32 {
                    if length(a.0 - b.0, a.1 - b.1) >= 3.0 * radius {
                        break;
                    }
                    b = place(rng);
                }
                if length(a.0 - b.0, a.1 - b.1) < 3.0 * radius {
                    b = (size - a.0, size - a.1);
                }
                Shape::Dots { a, b, radius }
            }
        }
    }

    /// Signed distance in pixels from pixel centre `(x, y)` to the shape's edge.
    fn distance(&self, x: f32, y: f32) -> f32 {
        match *self {
            Shape::Object {
                unit,
                centre,
                radius,
                angle,
            } => {
                let (u, v) = rotate((x - centre.0, y - centre.1), -angle);
                unit(u / radius, v / radius) * radius
            }
            Shape::Stripes {
                angle,
                period,
                phase,
            } => {
                let t = (rotate((x, y), -angle).0 + phase).rem_euclid(period);
                (t - period / 2.0).abs() - period / 4.0
            }
            Shape::Checker { angle, cell, phase } => {
                let (u, v) = rotate((x, y), -angle);
                let (u, v) = ((u + phase.0) / cell, (v + phase.1) / cell);
                let edge = |t: f32| (t - t.floor()).min(t.ceil() - t) * cell;
                let d = edge(u).min(edge(v));
                let dark = (u.floor() + v.floor()).rem_euclid(2.0) < 0.5;
                if dark {
                    -d
                } else {
                    d
                }
            }
            Shape::Line {
                point,
                angle,
                half_width,
            } => {
                let (nx, ny) = rotate((1.0, 0.0), angle);
                ((x - point.0) * nx + (y - point.1) * ny).abs() - half_width
            }
            Shape::Dots { a, b, radius } => {
                let da = length(x - a.0, y - a.1) - radius;
                let db = length(x - b.0, y - b.1) - radius;
                da.min(db)
            }
        }
    }
}

/// A background and a foreground colour at least 100 levels apart (Euclidean, RGB).
fn colours(rng: &mut Rng) -> ([f32; 3], [f32; 3]) {
    let pick = |rng: &mut Rng| [0; 3].map(|_: u8| rng.uniform(0.0, 255.0));
    let bg = pick(rng);
    for _ in 0..32 {
        let fg = pick(rng);
        let d2: f32 = (0..3).map(|c| (fg[c] - bg[c]).powi(2)).sum();
        if d2 >= 100.0 * 100.0 {
            return (bg, fg);
        }
    }
    // Rare fallback: each channel at the far end from the background's.
    (bg, bg.map(|v| if v < 128.0 { 255.0 } else { 0.0 }))
}

/// Draws one image of `class` at `size`×`size`.
fn draw(rng: &mut Rng, class: usize, size: u32) -> RgbImage {
    let s = size as f32;
    let (bg, fg) = colours(rng);
    let shape = Shape::random(class, rng, s);
    // Lighting: a linear ramp of up to ±20 levels across the image.
    let (gx, gy) = rotate(
        (rng.uniform(0.0, 40.0) / s, 0.0),
        rng.uniform(0.0, 2.0 * PI),
    );
    let noise = rng.uniform(2.0, 12.0);

    let mut img = RgbImage::new(size, size);
    for (x, y, pixel) in img.enumerate_pixels_mut() {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let cover = (0.5 - shape.distance(px, py)).clamp(0.0, 1.0);
        let light = gx * (px - s / 2.0) + gy * (py - s / 2.0);
        *pixel = Rgb([0, 1, 2].map(|c| {
            let v = bg[c] + (fg[c] - bg[c]) * cover + light + noise * rng.normal();
            v.round().clamp(0.0, 255.0) as u8
        }));
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_pixels_and_images_differ() {
        let a = SyntheticDataset::new(42, Split::Train, 20, 32).unwrap();
        let b = SyntheticDataset::new(42, Split::Train, 20, 32).unwrap();
        for i in 0..20 {
            assert_eq!(a.image(i).unwrap(), b.image(i).unwrap(), "image {i}");
        }
        for i in 0..19 {
            assert_ne!(
                a.image(i).unwrap(),
                a.image(i + 1).unwrap(),
                "images {i} and {}",
                i + 1
            );
        }
        // Same class ten apart, still different pictures.
        assert_ne!(a.image(0).unwrap(), a.image(10).unwrap());
    }

    #[test]
    fn seeds_and_splits_give_different_images() {
        let splits = SyntheticDataset::splits(1, 10, 10, 32).unwrap();
        let other = SyntheticDataset::new(2, Split::Train, 10, 32).unwrap();
        for i in 0..10 {
            let t = splits.train.image(i).unwrap();
            assert_ne!(t, splits.val.image(i).unwrap(), "train and val image {i}");
            assert_ne!(t, other.image(i).unwrap(), "seed 1 and 2 image {i}");
        }
    }

    #[test]
    fn every_class_present_and_balanced() {
        let d = SyntheticDataset::default_splits(0).train;
        let mut counts = [0usize; 10];
        for i in 0..d.len() {
            counts[d.label(i) as usize] += 1;
        }
        assert_eq!(counts, [500; 10]);
        assert_eq!(d.class_names().len(), 10);
        assert_eq!(d.class_names()[5], "horizontal stripes");
    }

    #[test]
    fn size_is_configurable_and_checked() {
        for size in [16, 32, 48, 64] {
            let d = SyntheticDataset::new(0, Split::Val, 10, size).unwrap();
            let img = d.image(3).unwrap();
            assert_eq!(img.dimensions(), (size, size));
        }
        assert!(SyntheticDataset::new(0, Split::Val, 10, 4).is_err());
        let d = SyntheticDataset::new(0, Split::Val, 10, 32).unwrap();
        assert!(
            d.image(10).is_err(),
            "index past the end is an error, not a panic"
        );
    }

    /// Foreground really differs from background: some channel varies across the image.
    #[test]
    fn images_have_contrast() {
        let d = SyntheticDataset::new(3, Split::Train, 200, 32).unwrap();
        for i in 0..d.len() {
            let img = d.image(i).unwrap();
            let n = img.pixels().len() as f32;
            let sd = |c: usize| {
                let mean = img.pixels().map(|p| p.0[c] as f32).sum::<f32>() / n;
                (img.pixels()
                    .map(|p| (p.0[c] as f32 - mean).powi(2))
                    .sum::<f32>()
                    / n)
                    .sqrt()
            };
            let best = sd(0).max(sd(1)).max(sd(2));
            assert!(
                best > 15.0,
                "image {i} ({}) looks flat: sd {best}",
                CLASS_NAMES[d.label(i) as usize]
            );
        }
    }
}
