//! Class and file names with control characters: a class folder named with ESC and a
//! line break cleared the screen, retitled the window or forged output lines. What is
//! printed for people escapes them; `--json` output and stored metadata keep the names.

#![cfg(unix)]

use std::path::Path;
use std::process::Output;

use image::{Rgb, RgbImage};
use vgg_wgpu::data::Preprocessing;
use vgg_wgpu::model::ModelMeta;

use crate::eval::{path_text, picture, spec, tensors};
use crate::{scratch, stderr, vgg_wgpu};

/// Clears the screen, then starts a line that looks like the program's own.
const CLASS: &str = "cat\x1b[2J\r\nerror: forged";
const CLASS_SHOWN: &str = "cat\\x1b[2J\\x0d\\x0aerror: forged";
/// Retitles the terminal window.
const TITLE: &str = "dog\x1b]0;pwned\x07";
const TITLE_SHOWN: &str = "dog\\x1b]0;pwned\\x07";

fn no_raw_controls(output: &Output) {
    for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !bytes.iter().any(|&b| b == 0x1b || b == 0x07 || b == b'\r'),
            "raw control characters on {stream}: {text:?}"
        );
    }
}

#[test]
fn classify_escapes_class_and_file_names_but_not_json() {
    let dir = scratch("terminal-classify");
    let mut weights = tensors(&spec());
    let names = vec![CLASS.into(), TITLE.into(), "c2".into(), "c3".into()];
    ModelMeta::new(
        &spec(),
        names,
        Preprocessing::mean_only([120.0; 3]),
        [36, 36],
    )
    .write(&mut weights);
    let model = dir.join("model.safetensors");
    weights.save(&model).unwrap();
    let image = picture(&dir, "photo\x1b[31m.png", 40, 32);
    let missing = path_text(&dir.join("gone\x1b[2J.png")).to_string();

    let output = vgg_wgpu(&[
        "classify",
        "--weights",
        path_text(&model),
        "--top",
        "4",
        &image,
        &missing,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    no_raw_controls(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for shown in [CLASS_SHOWN, TITLE_SHOWN, "photo\\x1b[31m.png"] {
        assert!(stdout.contains(shown), "no {shown:?} in {stdout}");
    }
    let message = stderr(&output);
    // classify's own line for the image, and main's error at the end.
    assert_eq!(message.matches("gone\\x1b[2J.png").count(), 2, "{message}");

    let output = vgg_wgpu(&[
        "classify",
        "--weights",
        path_text(&model),
        "--top",
        "4",
        "--json",
        &image,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let top: Vec<&str> = json[0]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(top.contains(&CLASS) && top.contains(&TITLE), "{top:?}");
    assert_eq!(json[0]["image"].as_str(), Some(image.as_str()));
}

/// `root/<class>/*.png`, `count` images of each class.
fn photos(root: &Path, classes: &[&str], count: u32) {
    for (c, class) in classes.iter().enumerate() {
        let folder = root.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..count {
            let image = RgbImage::from_fn(40, 36, |x, y| {
                Rgb([(x * 5 + i) as u8, (y * 7) as u8, 80 * c as u8])
            });
            image.save(folder.join(format!("{i}.png"))).unwrap();
        }
    }
}

#[test]
fn train_escapes_class_and_file_names_in_its_notes() {
    let dir = scratch("terminal-train");
    let data = dir.join("photos");
    photos(&data.join("train"), &[CLASS, TITLE], 4);
    photos(&data.join("val"), &[CLASS, TITLE], 1);
    // An unreadable image whose name is also hostile, for the skipped-image note; with
    // it, the 8 training images make two whole batches, so it is read.
    let hostile = data.join("train").join(TITLE).join("z\x1b[2J.png");
    std::fs::remove_file(data.join("train").join(TITLE).join("3.png")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", hostile).unwrap();
    let out = dir.join("run");
    let output = vgg_wgpu(&[
        "train",
        "--data",
        path_text(&data),
        "--width-divisor",
        "16",
        "--epochs",
        "1",
        "--batch",
        "4",
        "--workers",
        "1",
        "--out",
        path_text(&out),
    ]);
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    no_raw_controls(&output);
    assert!(
        message.contains(&format!(
            "training images per class: {CLASS_SHOWN} 4, {TITLE_SHOWN} 4"
        )),
        "{message}"
    );
    assert!(
        message.contains("unreadable training image, other images take its place:")
            && message.contains("z\\x1b[2J.png"),
        "{message}"
    );
    // The model keeps the names as they are.
    let model = vgg_wgpu::model::WeightFile::load(&out.join("model.safetensors")).unwrap();
    let meta = ModelMeta::read(&model, "model").unwrap().unwrap();
    assert_eq!(meta.class_names, [CLASS, TITLE]);
}

/// An error printed by main names a path with control characters.
#[test]
fn errors_escape_the_paths_they_name() {
    let dir = scratch("terminal-error");
    let data = path_text(&dir.join("no\x1b[2Jsuch")).to_string();
    let output = vgg_wgpu(&["eval", "--weights", crate::eval::model(), "--data", &data]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    no_raw_controls(&output);
    let message = stderr(&output);
    assert!(
        message.contains("no\\x1b[2Jsuch: data set folder does not exist"),
        "{message}"
    );
}
