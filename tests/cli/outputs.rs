//! Outputs never written over inputs: `features --weights w/m.safetensors --out
//! w/m.safetensors` destroyed the model, `classify --heatmap p.png p.png` the photo,
//! and two images named x.png in different folders wrote one heat map.

#![cfg(unix)]

use std::path::Path;

use crate::eval::{model, path_text, picture};
use crate::{scratch, stderr, vgg_wgpu};

/// `path`, then the same file by `./`, `..`, a symbolic link and a hard link.
fn other_paths(path: &Path) -> Vec<String> {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap();
    let link = dir.join(format!("soft-{}", name.to_str().unwrap()));
    let hard = dir.join(format!("hard-{}", name.to_str().unwrap()));
    std::os::unix::fs::symlink(path, &link).unwrap();
    std::fs::hard_link(path, &hard).unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    [
        path.to_path_buf(),
        dir.join(".").join(name),
        dir.join("sub").join("..").join(name),
        link,
        hard,
    ]
    .iter()
    .map(|p| path_text(p).to_string())
    .collect()
}

fn refused_intact(output: &std::process::Output, option: &str, input: &Path, before: &[u8]) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!("error: {option}: would write"))
            && message.contains("the same file as")
            && message.contains(&format!("give {option} another file name")),
        "{message}"
    );
    assert_eq!(std::fs::read(input).unwrap(), before, "{input:?} changed");
}

#[test]
fn features_out_that_is_the_weights_is_refused() {
    let dir = scratch("out-weights");
    let weights = dir.join("m.safetensors");
    std::fs::copy(model(), &weights).unwrap();
    let before = std::fs::read(&weights).unwrap();
    for out in other_paths(&weights) {
        let output = vgg_wgpu(&[
            "features",
            "--weights",
            path_text(&weights),
            "--data",
            "builtin",
            "--limit",
            "1",
            "--out",
            &out,
        ]);
        refused_intact(&output, "--out", &weights, &before);
    }
    // The temporary file written first, then renamed, is checked too.
    let tmp = dir.join("t.safetensors.tmp");
    std::fs::copy(model(), &tmp).unwrap();
    let out = dir.join("t.safetensors");
    let output = vgg_wgpu(&[
        "features",
        "--weights",
        path_text(&tmp),
        "--data",
        "builtin",
        "--out",
        path_text(&out),
    ]);
    refused_intact(&output, "--out", &tmp, &before);
}

#[test]
fn features_out_that_is_an_image_of_the_data_is_refused() {
    let dir = scratch("out-image");
    let folder = dir.join("data/val/c0");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(dir.join("data/train/c0")).unwrap();
    picture(&dir.join("data/train/c0"), "a.png", 40, 36);
    let image = Path::new(&picture(&folder, "a.png", 40, 36)).to_path_buf();
    let before = std::fs::read(&image).unwrap();
    let output = vgg_wgpu(&[
        "features",
        "--weights",
        model(),
        "--data",
        path_text(&dir.join("data")),
        "--out",
        path_text(&image),
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("the same file as the image"), "{message}");
    assert_eq!(std::fs::read(&image).unwrap(), before);
}

#[test]
fn a_heatmap_that_is_an_input_is_refused() {
    let dir = scratch("heatmap-input");
    let photo = Path::new(&picture(&dir, "p.png", 40, 32)).to_path_buf();
    let before = std::fs::read(&photo).unwrap();
    for heatmap in other_paths(&photo) {
        let output = vgg_wgpu(&[
            "classify",
            "--weights",
            model(),
            "--heatmap",
            &heatmap,
            path_text(&photo),
        ]);
        refused_intact(&output, "--heatmap", &photo, &before);
    }
    let weights = dir.join("m.safetensors");
    std::fs::copy(model(), &weights).unwrap();
    let model_bytes = std::fs::read(&weights).unwrap();
    let output = vgg_wgpu(&[
        "classify",
        "--weights",
        path_text(&weights),
        "--heatmap",
        path_text(&weights),
        path_text(&photo),
    ]);
    refused_intact(&output, "--heatmap", &weights, &model_bytes);
}

/// With several images, a heat map's name is made from the image's: `hm-x.png` for
/// `x.png` must not be another of the images.
#[test]
fn a_generated_heatmap_name_that_is_an_input_is_refused() {
    let dir = scratch("heatmap-generated");
    let x = picture(&dir, "x.png", 40, 32);
    let hm_x = Path::new(&picture(&dir, "hm-x.png", 40, 32)).to_path_buf();
    let before = std::fs::read(&hm_x).unwrap();
    let output = vgg_wgpu(&[
        "classify",
        "--weights",
        model(),
        "--heatmap",
        path_text(&dir.join("hm.png")),
        &x,
        path_text(&hm_x),
    ]);
    refused_intact(&output, "--heatmap", &hm_x, &before);
}

#[test]
fn images_of_the_same_name_get_heatmaps_of_their_own() {
    let dir = scratch("heatmap-collide");
    let mut images = Vec::new();
    for folder in ["cats", "dogs"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        images.push(picture(
            &dir.join(folder),
            "x.png",
            40,
            32 + images.len() as u32,
        ));
    }
    let out = dir.join("hm.png");
    let output = vgg_wgpu(&[
        "classify",
        "--weights",
        model(),
        "--heatmap",
        path_text(&out),
        &images[0],
        &images[1],
    ]);
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    let first = dir.join("hm-x.png");
    let second = dir.join("hm-x-2.png");
    for (image, file) in images.iter().zip([&first, &second]) {
        assert!(
            message.contains(&format!("in {image} written to {}", file.display())),
            "{message}"
        );
    }
    let sizes: Vec<(u32, u32)> = [&first, &second]
        .iter()
        .map(|f| image::open(f).unwrap().to_rgb8().dimensions())
        .collect();
    assert_eq!(sizes, [(40, 32), (40, 33)]);
}
