//! `train --init pretrained:FILE` on a folder of photos: a torchvision-layout VGG-16
//! (random values, 1000 classes, widths ÷16 to stay cheap) fine-tuned on three classes.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use vgg_wgpu::data::Preprocessing;
use vgg_wgpu::model::{Config, ModelMeta, ModelSpec, WeightFile};
use vgg_wgpu::train::init::{random_weights, Init};

use crate::{scratch, stderr, vgg_wgpu};

const CLASSES: [&str; 3] = ["blue", "green", "red"];

/// A VGG-16 in torchvision's layout and nothing else (no metadata), 1000 classes.
fn torchvision_vgg16(dir: &Path) -> (PathBuf, WeightFile) {
    let spec = ModelSpec {
        config: Config::D,
        classes: 1000,
        input_size: 32,
        width_divisor: 16,
    };
    let weights = random_weights(&spec, &Init::Kaiming, 9);
    let path = dir.join("vgg16.safetensors");
    weights.save(&path).unwrap();
    (path, weights)
}

/// photos/<colour>/*.png: 8 noisy images of each colour (one of them held out).
fn photos(dir: &Path) -> PathBuf {
    let root = dir.join("photos");
    for (c, class) in CLASSES.iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..8u32 {
            let image = RgbImage::from_fn(40, 36, |x, y| {
                let noise = ((x * 31 + y * 17 + i * 7) % 50) as u8;
                let mut pixel = [noise; 3];
                pixel[2 - c] = 180 + noise;
                Rgb(pixel)
            });
            image
                .save(root.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    root
}

fn fine_tune(source: &Path, photos: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let init = format!("pretrained:{}", source.display());
    let mut args = vec![
        "train",
        "--init",
        &init,
        "--data",
        photos.to_str().unwrap(),
        "--val-split",
        "0.25",
        "--freeze",
        "features",
        "--batch",
        "4",
        "--workers",
        "1",
        "--checkpoint-every",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    vgg_wgpu(&args)
}

#[test]
fn a_torchvision_vgg16_fine_tunes_on_a_photo_folder_with_frozen_features() {
    let dir = scratch("fine-tune");
    let (source_path, source) = torchvision_vgg16(&dir);
    let photos = photos(&dir);
    let straight = dir.join("straight");
    let output = fine_tune(&source_path, &photos, &straight, &["--epochs", "2"]);
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    for said in [
        "copied 30 tensors of",
        "new: classifier.6 (1000 → 3 classes)",
        "training images per class: blue 6, green 6, red 6",
        "VGG-D (widths ÷16, input 32)",
    ] {
        assert!(log.contains(said), "no '{said}' in: {log}");
    }

    let model = WeightFile::load(&straight.join("model.safetensors")).unwrap();
    assert_eq!(model.tensors["classifier.6.weight"].0, vec![3, 256]);
    for (name, tensor) in &model.tensors {
        match name.starts_with("features.") {
            true => assert_eq!(tensor, &source.tensors[name], "{name} is frozen"),
            false => assert_ne!(tensor.1, source.tensors[name].1, "{name} trained"),
        }
    }
    let meta = ModelMeta::read(&model, "model").unwrap().unwrap();
    assert_eq!(meta.class_names, CLASSES);
    assert_eq!(meta.config, "D");
    assert_eq!(
        meta.preprocessing,
        Preprocessing::TORCHVISION,
        "the source's"
    );
    assert_eq!(
        meta.train_scale,
        [37, 37],
        "torchvision's 8/7 of the input, the source's"
    );

    // One epoch, then --resume for the second: the same bits as two straight.
    let resumed = dir.join("resumed");
    let first = fine_tune(&source_path, &photos, &resumed, &["--epochs", "1"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let rest = fine_tune(
        &source_path,
        &photos,
        &resumed,
        &["--epochs", "2", "--resume"],
    );
    assert!(rest.status.success(), "{}", stderr(&rest));
    let again = WeightFile::load(&resumed.join("model.safetensors")).unwrap();
    assert_eq!(
        again.tensors, model.tensors,
        "resumed equals straight, bit for bit"
    );

    // Changing how it trains is refused on resume.
    let changed = fine_tune(
        &source_path,
        &photos,
        &resumed,
        &["--epochs", "3", "--resume", "--lr-features", "0.5"],
    );
    let message = stderr(&changed);
    assert!(
        !changed.status.success()
            && message.contains("started with no --lr-features, now --lr-features 0.5"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_photo_folder_without_val_split_says_how_to_split_it() {
    let dir = scratch("no-split");
    let photos = photos(&dir);
    let output = vgg_wgpu(&[
        "train",
        "--data",
        photos.to_str().unwrap(),
        "--out",
        dir.join("run").to_str().unwrap(),
    ]);
    let message = stderr(&output);
    assert!(
        !output.status.success() && message.contains("--val-split 0.1"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_fine_tuning_values_are_refused_where_they_are_typed() {
    for (args, said) in [
        (&["--freeze", "bogus"][..], "'bogus' is not `features`"),
        (&["--init", "pretrained:"][..], "pretrained:<weight file>"),
        (
            &["--lr-features", "-1"][..],
            "must be 0 or a positive finite multiplier",
        ),
        (
            &["--val-split", "1"][..],
            "must be a fraction above 0 and below 1",
        ),
    ] {
        let output = vgg_wgpu(&[&["train"][..], args].concat());
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(message.contains(said), "no '{said}' in: {message}");
        let option = args[0];
        assert_eq!(
            message.matches(option).count(),
            1,
            "{option} named once: {message}"
        );
    }
}
