//! Input files that are not regular files: `classify --weights M /dev/zero` grew to 23 GB
//! before it was killed, and a FIFO blocked forever. Every command now refuses such a
//! file at once, naming it and saying what it accepts; a link to a real file still works.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::eval::{model, path_text, picture};
use crate::{scratch, stderr, vgg_wgpu, vgg_wgpu_within};

/// Longer than any of these runs takes on a CPU adapter, far shorter than a hang.
const LIMIT: Duration = Duration::from_secs(60);

fn fifo(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let made = std::process::Command::new("mkfifo").arg(&path).status();
    assert!(made.expect("mkfifo runs").success(), "mkfifo {path:?}");
    path_text(&path).to_string()
}

fn refused(output: &std::process::Output, parts: &[&str]) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    for part in parts {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
}

#[test]
fn a_device_or_fifo_given_as_an_image_is_refused_and_the_others_classified() {
    let dir = scratch("special-images");
    let image = picture(&dir, "a.png", 40, 32);
    let pipe = fifo(&dir, "pipe.png");
    let output = vgg_wgpu_within(
        LIMIT,
        &["classify", "--weights", model(), "/dev/zero", &pipe, &image],
    );
    refused(
        &output,
        &[
            "/dev/zero: cannot read the file: it is a character device, not a regular file: give a JPEG or PNG file",
            &format!("{pipe}: cannot read the file: it is a FIFO (named pipe)"),
            "2 of 3 images could not be classified",
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&image), "{stdout}");
}

#[test]
fn a_symbolic_link_to_an_image_is_classified() {
    let dir = scratch("linked-image");
    let image = picture(&dir, "a.png", 40, 32);
    let link = dir.join("link.png");
    std::os::unix::fs::symlink(&image, &link).unwrap();
    let output = vgg_wgpu(&["classify", "--weights", model(), path_text(&link)]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_device_or_fifo_given_as_weights_is_refused() {
    let dir = scratch("special-weights");
    let image = picture(&dir, "a.png", 40, 32);
    let pipe = fifo(&dir, "pipe.safetensors");
    for weights in ["/dev/zero", "/dev/urandom", &pipe] {
        let output = vgg_wgpu_within(LIMIT, &["classify", "--weights", weights, &image]);
        refused(
            &output,
            &[
                &format!("{weights}: the weight file cannot be read: it is a"),
                "not a regular file: give a .safetensors file",
            ],
        );
    }
}

/// `features` over a folder with a link to /dev/zero among its images: the link is an
/// unreadable image, skipped and listed, and the others' features are written.
#[test]
fn a_link_to_a_device_in_an_image_folder_is_skipped_as_unreadable() {
    let dir = scratch("special-folder");
    let data = dir.join("data");
    for split in ["train", "val"] {
        for class in ["c0", "c1"] {
            let folder = data.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            picture(&folder, "a.png", 40, 36);
        }
    }
    std::os::unix::fs::symlink("/dev/zero", data.join("val/c1/zero.png")).unwrap();
    let out = dir.join("features.safetensors");
    let output = vgg_wgpu_within(
        LIMIT,
        &[
            "features",
            "--weights",
            model(),
            "--data",
            path_text(&data),
            "--out",
            path_text(&out),
        ],
    );
    refused(
        &output,
        &[
            "zero.png: cannot read the file: it is a character device",
            "1 of 3 images were skipped",
        ],
    );
    let written = vgg_wgpu::model::WeightFile::load(&out).expect("features written");
    assert_eq!(written.tensors["labels"].0, [2]);
}

/// `train --init pretrained:FILE`, `--init from:FILE` and `--resume` with a checkpoint
/// that is a link to /dev/zero.
#[test]
fn training_refuses_a_device_as_its_starting_weights() {
    let dir = scratch("special-train");
    let resumed: PathBuf = dir.join("resumed");
    std::fs::create_dir_all(&resumed).unwrap();
    let checkpoint = resumed.join("checkpoint.safetensors");
    std::os::unix::fs::symlink("/dev/zero", &checkpoint).unwrap();
    let fresh = path_text(&dir.join("fresh")).to_string();
    let train = |extra: &[&str], out: &str| {
        let mut args = vec!["train", "--width-divisor", "16", "--epochs", "1"];
        args.extend_from_slice(&["--train-images", "16", "--val-images", "8", "--batch", "8"]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out]);
        vgg_wgpu_within(LIMIT, &args)
    };
    for (extra, out, named) in [
        (vec!["--init", "pretrained:/dev/zero"], &fresh, "/dev/zero"),
        (vec!["--init", "from:/dev/zero"], &fresh, "/dev/zero"),
        (
            vec!["--resume"],
            &path_text(&resumed).to_string(),
            path_text(&checkpoint),
        ),
    ] {
        let output = train(&extra, out);
        refused(
            &output,
            &[
                &format!("{named}: the weight file cannot be read: it is a character device"),
                "give a .safetensors file",
            ],
        );
    }
}
