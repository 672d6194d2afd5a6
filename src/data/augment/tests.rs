//! The augmentation's geometry, determinism and colour shift, on small images.

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
