//! Images through the whole protocol: flips, crops, sizes, colour types, folders.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use crate::harness::*;
use crate::{small, temp_dir, weights};
use vgg_wgpu::data::image_folder::decode;
use vgg_wgpu::eval::{evaluate_image, open_test_set, Protocol, TestModel, DENSE_PLANS_KEPT};
use vgg_wgpu::gpu::Storage;
use vgg_wgpu::model::Config;

fn model(classes: usize) -> TestModel {
    let spec = small(Config::A, 32, classes);
    let mut rng = rng("eval model");
    TestModel::new(gpu(), &weights(&spec, &mut rng), "test", Storage::F32).unwrap()
}

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 13 % 256) as u8,
            (y * 29 % 256) as u8,
            ((x * y) % 251) as u8,
        ])
    })
}

fn all(scales: &[u32]) -> Protocol {
    Protocol {
        scales: scales.to_vec(),
        dense: true,
        multi_crop: true,
        flip: true,
    }
}

fn sums_to_one(p: &[f32]) {
    let s: f32 = p.iter().sum();
    assert!(
        (s - 1.0).abs() < 1e-4 && p.iter().all(|v| v.is_finite()),
        "{p:?}"
    );
}

#[test]
fn an_image_and_its_mirror_give_the_same_posteriors() {
    let mut m = model(7);
    let image = picture(64, 48);
    let mirror = image::imageops::flip_horizontal(&image);
    // Q = 48: no resampling, and crop positions 0, 8, 16, 24, 32 are mirror-symmetric.
    let protocol = all(&[48]);
    let a = pollster::block_on(evaluate_image(gpu(), &mut m, &image, &protocol)).unwrap();
    let b = pollster::block_on(evaluate_image(gpu(), &mut m, &mirror, &protocol)).unwrap();
    check(
        "dense+flip: image vs mirror",
        &a.dense[0],
        &b.dense[0],
        1e-6,
    );
    check(
        "multi-crop: image vs mirror",
        &a.multi_crop[0],
        &b.multi_crop[0],
        1e-6,
    );
    check("features: image vs mirror", &a.features, &b.features, 1e-6);
    sums_to_one(&a.dense[0]);
    sums_to_one(&a.multi_crop[0]);
}

#[test]
fn images_of_many_sizes_keep_few_plans_and_a_rebuilt_plan_gives_the_same_posteriors() {
    let mut m = model(7);
    let protocol = Protocol {
        multi_crop: false,
        ..all(&[32, 40])
    };
    let first = picture(37, 45);
    let before = pollster::block_on(evaluate_image(gpu(), &mut m, &first, &protocol)).unwrap();
    // Six more sizes, two scales each: twelve plans, of which only the newest are kept,
    // so the first image's plans are gone and are built again.
    for w in 50..56 {
        pollster::block_on(evaluate_image(gpu(), &mut m, &picture(w, 41), &protocol)).unwrap();
        assert!(
            m.dense_plans_held() <= DENSE_PLANS_KEPT,
            "{} plans held",
            m.dense_plans_held()
        );
    }
    assert_eq!(m.dense_plans_held(), DENSE_PLANS_KEPT);
    let after = pollster::block_on(evaluate_image(gpu(), &mut m, &first, &protocol)).unwrap();
    for (scale, (a, b)) in before.dense.iter().zip(&after.dense).enumerate() {
        assert_eq!(a, b, "scale {scale}: a rebuilt plan changed the posteriors");
    }
    assert_eq!(before.features, after.features);
}

#[test]
fn small_odd_gray_and_alpha_images_are_evaluated() {
    let mut m = model(7);
    // Smaller than the training size: upscaled to Q like every image.
    for image in [picture(10, 12), picture(1, 1), picture(33, 200)] {
        let p = pollster::block_on(evaluate_image(gpu(), &mut m, &image, &all(&[32, 40]))).unwrap();
        assert_eq!((p.dense.len(), p.multi_crop.len()), (2, 2));
        p.dense
            .iter()
            .chain(&p.multi_crop)
            .for_each(|q| sums_to_one(q));
    }
    // Grayscale and RGBA files decode to RGB.
    let rgb = DynamicImage::ImageRgb8(picture(40, 36));
    for image in [
        DynamicImage::ImageLuma8(rgb.to_luma8()),
        DynamicImage::ImageRgba8(rgb.to_rgba8()),
    ] {
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, ImageFormat::Png).unwrap();
        let decoded = decode(bytes.get_ref()).unwrap();
        let p = pollster::block_on(evaluate_image(gpu(), &mut m, &decoded, &all(&[32]))).unwrap();
        sums_to_one(&p.dense[0]);
    }
}

#[test]
fn test_scales_below_the_training_size_are_errors() {
    let mut m = model(7);
    let result = pollster::block_on(evaluate_image(gpu(), &mut m, &picture(64, 64), &all(&[16])));
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("at least the training size 32"),
        "{message}"
    );
}

#[test]
fn folders_without_images_are_errors() {
    let root = temp_dir("empty");
    let message = open_test_set(root.to_str().unwrap(), 32)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("val/"), "{message}");
    for split in ["train/cat", "val/cat"] {
        std::fs::create_dir_all(root.join(split)).unwrap();
    }
    let message = open_test_set(root.to_str().unwrap(), 32)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("no .jpg"), "{message}");
    let missing = root.join("missing");
    assert!(open_test_set(missing.to_str().unwrap(), 32).is_err());
}

/// `eval --data` reads val/ alone, or a folder of class folders whole; train/ without
/// val/ names what is missing (not --val-split, which eval does not take).
#[test]
fn test_sets_come_from_val_or_from_class_folders() {
    let root = temp_dir("test-layouts");
    let write = |rel: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        picture(40, 40).save(&path).unwrap();
    };
    write("photos/cat/a.png");
    write("photos/dog/b.png");
    write("photos/dog/c.png");
    let whole = open_test_set(root.join("photos").to_str().unwrap(), 32).unwrap();
    assert_eq!(whole.images.len(), 3);
    assert_eq!(whole.images.class_names(), ["cat", "dog"]);
    assert_eq!(whole.images.label(2), 1);

    write("only-val/val/dog/a.png");
    let val = open_test_set(root.join("only-val").to_str().unwrap(), 32).unwrap();
    assert_eq!(val.images.len(), 1);
    assert_eq!(val.images.class_names(), ["dog"]);

    write("split/train/cat/a.png");
    write("split/train/dog/a.png");
    write("split/val/dog/b.png");
    let val = open_test_set(root.join("split").to_str().unwrap(), 32).unwrap();
    assert_eq!(
        val.images.class_names(),
        ["cat", "dog"],
        "train/ orders the classes"
    );
    assert_eq!(val.images.label(0), 1);

    write("no-val/train/cat/a.png");
    let message = open_test_set(root.join("no-val").to_str().unwrap(), 32)
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("no val/") && !message.contains("--val-split"),
        "{message}"
    );
}
