//! Writes a small folder of class folders that the built-in data set's classes do not
//! include, for fine-tuning experiments: five new shapes, drawn with the same kind of
//! variation (position, size, rotation, colours, a lighting gradient, pixel noise).
//!
//!     cargo run --release --example new_shapes_folder -- OUT [IMAGES_PER_CLASS] [SIDE]
//!
//! gives OUT/<shape>/<i>.png (default 40 images of 40×40 pixels per class), a pure
//! function of its arguments.

use std::f32::consts::PI;
use std::path::PathBuf;

use image::{Rgb, RgbImage};
use vgg_wgpu::data::rng::Rng;

const SHAPES: [&str; 5] = ["star", "hexagon", "crescent", "arrow", "ellipse"];

/// Whether the point (x, y), in shape units (the shape fills about -1..1), is inside
/// shape `class`.
fn inside(class: usize, x: f32, y: f32) -> bool {
    let (r, angle) = ((x * x + y * y).sqrt(), y.atan2(x));
    match class {
        // Five points: the radius swings between 0.45 and 1 around the circle.
        0 => r < 0.45 + 0.55 * (0.5 + 0.5 * (5.0 * angle).cos()).powf(3.0),
        // A regular hexagon: the distance to the nearest of six edges.
        1 => {
            let sector = (angle + PI / 6.0).rem_euclid(PI / 3.0) - PI / 6.0;
            r * sector.cos() < 0.85
        }
        // A disc with a shifted disc cut out of it.
        2 => r < 0.9 && ((x - 0.45).powi(2) + y * y).sqrt() > 0.7,
        // A shaft and a head, pointing right.
        3 => {
            (x > -0.9 && x < 0.2 && y.abs() < 0.22)
                || ((0.2..0.9).contains(&x) && y.abs() < 0.9 - x)
        }
        // Twice as wide as high.
        _ => (x / 0.95).powi(2) + (y / 0.45).powi(2) < 1.0,
    }
}

fn colour(rng: &mut Rng) -> [f32; 3] {
    [0; 3].map(|_| rng.uniform(0.0, 255.0))
}

/// Image `i` of `class`, `side` pixels square.
fn draw(class: usize, i: usize, side: u32) -> RgbImage {
    let mut rng = Rng::from_key(&[0x4E_5348, class as u64, i as u64]);
    let (background, mut foreground) = (colour(&mut rng), colour(&mut rng));
    while (0..3)
        .map(|c| (background[c] - foreground[c]).abs())
        .sum::<f32>()
        < 150.0
    {
        foreground = colour(&mut rng);
    }
    let s = side as f32;
    let size = rng.uniform(0.25, 0.42) * s;
    let (cx, cy) = (rng.uniform(0.35, 0.65) * s, rng.uniform(0.35, 0.65) * s);
    let turn = rng.uniform(0.0, 2.0 * PI);
    let (light, light_angle) = (rng.uniform(0.0, 40.0), rng.uniform(0.0, 2.0 * PI));
    RgbImage::from_fn(side, side, |px, py| {
        let (dx, dy) = ((px as f32 - cx) / size, (py as f32 - cy) / size);
        let (x, y) = (
            dx * turn.cos() + dy * turn.sin(),
            -dx * turn.sin() + dy * turn.cos(),
        );
        let base = match inside(class, x, y) {
            true => foreground,
            false => background,
        };
        let gradient = light
            * ((px as f32 / s - 0.5) * light_angle.cos()
                + (py as f32 / s - 0.5) * light_angle.sin());
        Rgb(base.map(|v| (v + gradient + 8.0 * rng.normal()).clamp(0.0, 255.0) as u8))
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: new_shapes_folder OUT [IMAGES_PER_CLASS] [SIDE]");
        std::process::exit(2);
    };
    let count: usize = args.next().map_or(40, |a| a.parse().expect("a count"));
    let side: u32 = args
        .next()
        .map_or(40, |a| a.parse().expect("a side in pixels"));
    for (class, name) in SHAPES.iter().enumerate() {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir).expect("the output folder can be created");
        for i in 0..count {
            let path = dir.join(format!("{i:03}.png"));
            draw(class, i, side)
                .save(&path)
                .expect("the image can be written");
        }
    }
    println!(
        "{} images in {} classes written to {}",
        count * SHAPES.len(),
        SHAPES.len(),
        out.display()
    );
}
