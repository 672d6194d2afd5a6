//! A small image folder whose training split holds unreadable files, for the tests of
//! what the loader and training do with them (also used by tests/training.rs and
//! tests/mpi_training.rs, through `#[path]`).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// Writes `root/train/{a,b}/` with 36 images of 40×40 and 4 unreadable files (a few
/// bytes of garbage named .jpg), and `root/val/{a,b}/` with 8 images; returns the
/// unreadable files.
pub fn write(root: &Path) -> Vec<PathBuf> {
    let write = |relative: String, bytes: &[u8]| {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a file in a folder")).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    };
    for (class, name) in ["a", "b"].iter().enumerate() {
        for i in 0..18 {
            write(format!("train/{name}/{i:02}.jpg"), &jpeg(class, i));
        }
        for i in 0..4 {
            write(format!("val/{name}/{i}.jpg"), &jpeg(class, 30 + i));
        }
    }
    ["a/x", "a/y", "b/x", "b/z"]
        .map(|name| write(format!("train/{name}.jpg"), b"\xff\xd8 not a JPEG"))
        .to_vec()
}

/// Image `i` of `class`: a ramp along x (class 0) or y (class 1).
fn jpeg(class: usize, i: usize) -> Vec<u8> {
    let image = RgbImage::from_fn(40, 40, |x, y| {
        let v = ([x, y][class] * 6 + i as u32 * 3) as u8;
        Rgb([v, 255 - v, (i * 20) as u8])
    });
    let mut bytes = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image)
        .write_to(&mut bytes, ImageFormat::Jpeg)
        .unwrap();
    bytes.into_inner()
}
