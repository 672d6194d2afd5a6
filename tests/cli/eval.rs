//! `vgg-wgpu eval`, `classify`, `features`: see tests/cli/main.rs. The models are
//! written through the library (a VGG-A with widths ÷16 on 32×32 inputs), which is much
//! faster than training one.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use image::{Rgb, RgbImage};
use vgg_wgpu::data::Preprocessing;
use vgg_wgpu::model::{Config, ModelMeta, ModelSpec, WeightFile};

use crate::{scratch, stderr, vgg_wgpu};

const CLASSES: usize = 4;

pub(super) fn spec() -> ModelSpec {
    ModelSpec {
        config: Config::A,
        classes: CLASSES,
        input_size: 32,
        width_divisor: 16,
    }
}

/// Weights of `spec` from a fixed hash, scaled by fan-in so activations stay near 1.
pub(super) fn tensors(spec: &ModelSpec) -> WeightFile {
    let mut w = WeightFile::default();
    for (t, p) in spec.parameters().into_iter().enumerate() {
        let n: usize = p.shape.iter().product();
        let fan_in = (n / p.shape[0]).max(1) as f32;
        let values = (0..n)
            .map(|i| {
                let h = (i as u32 ^ (t as u32).wrapping_mul(0x9E37_79B9)).wrapping_mul(0x85EB_CA6B);
                ((h >> 8) as f32 / (1 << 24) as f32 - 0.5) * 2.0 / fan_in.sqrt()
            })
            .collect();
        w.tensors.insert(p.name, (p.shape, values));
    }
    w
}

pub(super) fn path_text(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// A model with our metadata, written once per test binary.
pub(super) fn model() -> &'static str {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let mut w = tensors(&spec());
        let names = (0..CLASSES).map(|i| format!("c{i}")).collect();
        ModelMeta::new(
            &spec(),
            names,
            Preprocessing::mean_only([120.0; 3]),
            [36, 36],
        )
        .write(&mut w);
        let path = scratch("model").join("model.safetensors");
        w.save(&path).expect("model written");
        path
    });
    path_text(path)
}

/// The same tensors without metadata, as `safetensors.torch.save_file` would write them.
fn bare_model() -> &'static str {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let path = scratch("bare").join("bare.safetensors");
        tensors(&spec()).save(&path).expect("bare model written");
        path
    });
    path_text(path)
}

pub(super) fn picture(dir: &Path, name: &str, w: u32, h: u32) -> String {
    let path = dir.join(name);
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 7) as u8, (y * 11) as u8, (x ^ y) as u8])
    })
    .save(&path)
    .expect("image written");
    path_text(&path).to_string()
}

fn fails_with(output: &Output, parts: &[&str]) {
    let message = stderr(output);
    assert!(!output.status.success(), "succeeded: {message}");
    for part in parts {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
}

/// A diverged training's weights: eval scored 0.00% error on them, classify printed
/// NaN%. Every command now refuses the file and names the tensor.
#[test]
fn weights_with_non_finite_values_are_refused_naming_the_tensor() {
    let dir = scratch("nan");
    let mut w = tensors(&spec());
    w.tensors.get_mut("features.3.weight").expect("conv 2").1[7] = f32::NAN;
    ModelMeta::new(
        &spec(),
        (0..CLASSES).map(|i| i.to_string()).collect(),
        Preprocessing::mean_only([0.0; 3]),
        [32, 32],
    )
    .write(&mut w);
    let nan = dir.join("nan.safetensors");
    w.save(&nan).unwrap();
    let nan = path_text(&nan);
    let image = picture(&dir, "a.png", 40, 32);
    let out = path_text(&dir.join("f.safetensors")).to_string();
    for args in [
        vec!["eval", "--weights", nan, "--limit", "2"],
        vec!["classify", "--weights", nan, &image],
        vec![
            "features",
            "--weights",
            nan,
            "--data",
            "builtin",
            "--limit",
            "2",
            "--out",
            &out,
        ],
    ] {
        let output = vgg_wgpu(&args);
        fails_with(
            &output,
            &[nan, "'features.3.weight' holds 1 non-finite", "NaN"],
        );
    }
}

/// `--scales 100000` aborted the process allocating 30 GB; a 20000×2 image failed in
/// the GPU layer without its file name. Both now name the limit, and the other images
/// are still classified.
#[test]
fn scales_and_images_too_large_for_the_adapter_name_the_limit() {
    let dir = scratch("large");
    let image = picture(&dir, "a.png", 40, 32);
    let output = vgg_wgpu(&[
        "classify",
        "--weights",
        model(),
        "--scales",
        "100000",
        &image,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    fails_with(&output, &["Q=100000", "max_storage_buffer_binding_size"]);

    let wide = picture(&dir, "wide.png", 20000, 2);
    let output = vgg_wgpu(&["classify", "--weights", model(), &wide, &image]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    fails_with(
        &output,
        &[&wide, "max_storage_buffer_binding_size", "1 of 2 images"],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&image) && !stdout.contains(&wide),
        "{stdout}"
    );
}

/// A PNG whose header claims 100000×100000 pixels: the decoder said only "Memory limit
/// exceeded".
#[test]
fn a_decompression_bomb_is_named_with_its_size() {
    let dir = scratch("bomb");
    let bomb = dir.join("bomb.png");
    std::fs::write(&bomb, png_header(100_000, 100_000)).unwrap();
    let bomb = path_text(&bomb);
    let output = vgg_wgpu(&["classify", "--weights", model(), bomb]);
    fails_with(&output, &[bomb, "100000×100000 pixels", "MiB per image"]);
}

/// A PNG signature, an IHDR chunk (8-bit RGB), an IDAT chunk holding an empty zlib
/// stream, and IEND: a few dozen bytes.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let empty_zlib = b"\x78\x9c\x03\x00\x00\x00\x00\x01".to_vec();
    for (kind, data) in [
        (b"IHDR", ihdr),
        (b"IDAT", empty_zlib),
        (b"IEND", Vec::new()),
    ] {
        bytes.extend((data.len() as u32).to_be_bytes());
        let start = bytes.len();
        bytes.extend(kind);
        bytes.extend(&data);
        let crc = crc32(&bytes[start..]);
        bytes.extend(crc.to_be_bytes());
    }
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A file without metadata got torchvision's preprocessing and S = 256 silently.
#[test]
fn guessed_preprocessing_is_said_and_can_be_overridden() {
    let dir = scratch("guess");
    let image = picture(&dir, "a.png", 40, 32);
    let output = vgg_wgpu(&["classify", "--weights", bare_model(), "--json", &image]);
    assert!(output.status.success(), "{}", stderr(&output));
    let note = stderr(&output);
    for part in [
        bare_model(),
        "no 'vgg_wgpu.model' metadata",
        "torchvision's",
        "(assumed)",
        "--normalize",
    ] {
        assert!(note.contains(part), "no '{part}' in: {note}");
    }
    let guessed = output.stdout;

    let given = [
        "classify",
        "--weights",
        bare_model(),
        "--json",
        "--mean",
        "120,120,120",
        "--train-scale",
        "36",
        &image,
    ];
    let output = vgg_wgpu(&given);
    assert!(output.status.success(), "{}", stderr(&output));
    let note = stderr(&output);
    assert!(
        note.contains("minus mean [120.0, 120.0, 120.0]") && note.contains("S=36 (as given)"),
        "{note}"
    );
    assert_ne!(output.stdout, guessed, "the overrides change the answer");
    // With the overrides, the bare file answers as the file with our metadata does.
    let ours = vgg_wgpu(&["classify", "--weights", model(), "--json", &image]);
    assert!(ours.status.success(), "{}", stderr(&ours));
    let top = |stdout: &[u8]| -> Vec<(u64, f64)> {
        let json: serde_json::Value = serde_json::from_slice(stdout).expect("JSON");
        let classes = json[0]["top"].as_array().expect("top classes").clone();
        classes
            .iter()
            .map(|c| {
                (
                    c["class"].as_u64().unwrap(),
                    c["probability"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(top(&output.stdout), top(&ours.stdout));

    let output = vgg_wgpu(&[
        "eval",
        "--weights",
        bare_model(),
        "--normalize",
        "mean-std",
        "--mean",
        "1,2,3",
        "--limit",
        "1",
    ]);
    fails_with(&output, &["needs both --mean R,G,B and --std R,G,B"]);
}

/// `--mean nan,1,1`, or a file whose metadata has std [0, 0, 0], made every image one
/// class at 99.65%. Both are refused, naming the option or the file and its field.
#[test]
fn a_normalisation_that_cannot_be_right_is_refused() {
    let dir = scratch("bad-normalisation");
    let image = picture(&dir, "a.png", 40, 32);
    for mean in ["nan,1,1", "inf,0,0"] {
        let output = vgg_wgpu(&["classify", "--weights", model(), "--mean", mean, &image]);
        fails_with(&output, &["--mean: [", "every value must be finite"]);
    }
    let output = vgg_wgpu(&[
        "classify",
        "--weights",
        model(),
        "--mean",
        "1,1,1",
        "--std",
        "1,0,1",
        &image,
    ]);
    fails_with(&output, &["--std: [1.0, 0.0, 1.0]", "positive and finite"]);

    let mut w = tensors(&spec());
    let zero_std = Preprocessing {
        std: [0.0; 3],
        ..Preprocessing::mean_only([120.0; 3])
    };
    let names = (0..CLASSES).map(|i| format!("c{i}")).collect();
    ModelMeta::new(&spec(), names, zero_std, [36, 36]).write(&mut w);
    let file = dir.join("zero-std.safetensors");
    w.save(&file).unwrap();
    let file = path_text(&file);
    let out = path_text(&dir.join("f.safetensors")).to_string();
    let init = format!("pretrained:{file}");
    let run = path_text(&dir.join("run")).to_string();
    for args in [
        vec!["train", "--init", &init, "--out", &run],
        vec!["classify", "--weights", file, &image],
        vec!["eval", "--weights", file, "--limit", "2"],
        vec![
            "features",
            "--weights",
            file,
            "--data",
            "builtin",
            "--limit",
            "2",
            "--out",
            &out,
        ],
    ] {
        let output = vgg_wgpu(&args);
        fails_with(&output, &[file, "preprocessing.std is [0.0, 0.0, 0.0]"]);
    }
}

/// One unreadable image lost the answers for all the others.
#[test]
fn classify_answers_every_readable_image_and_fails_at_the_end() {
    let dir = scratch("broken");
    let a = picture(&dir, "a.png", 40, 32);
    let c = picture(&dir, "c.png", 32, 48);
    let broken = dir.join("broken.jpg");
    std::fs::write(&broken, b"\xff\xd8\xff not really a JPEG").unwrap();
    let broken = path_text(&broken);
    let output = vgg_wgpu(&["classify", "--weights", model(), &a, broken, &c]);
    fails_with(&output, &[broken, "1 of 3 images could not be classified"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&a) && stdout.contains(&c), "{stdout}");

    let output = vgg_wgpu(&["classify", "--weights", model(), "--json", &a, broken]);
    assert!(!output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json[0]["image"], a.as_str());
    assert!(json[0]["top"].is_array());
    assert_eq!(json[1]["image"], broken);
    assert!(json[1]["error"].is_string());
}

/// features lists a skipped image, and checks --out before computing anything.
#[test]
fn features_lists_skipped_images_and_checks_the_output_first() {
    let root = scratch("features");
    for split in ["train/c0", "val/c0", "val/c1", "train/c1"] {
        std::fs::create_dir_all(root.join(split)).unwrap();
    }
    picture(&root.join("train/c0"), "t.png", 32, 32);
    picture(&root.join("train/c1"), "t.png", 32, 32);
    picture(&root.join("val/c0"), "a.png", 40, 32);
    picture(&root.join("val/c1"), "b.png", 32, 40);
    std::fs::write(root.join("val/c1/broken.jpg"), b"not an image").unwrap();
    let out = root.join("features.safetensors");
    let output = vgg_wgpu(&[
        "features",
        "--weights",
        model(),
        "--data",
        path_text(&root),
        "--out",
        path_text(&out),
    ]);
    fails_with(&output, &["broken.jpg", "1 of 3 images were skipped"]);
    let file = WeightFile::load(&out).expect("the other images' features are written");
    assert_eq!(file.tensors["labels"].0, [2]);
    assert!(
        file.metadata["skipped"].contains("broken.jpg"),
        "{:?}",
        file.metadata
    );

    // An --out that cannot be written fails before the weights are even read.
    let nowhere = root.join("missing-folder").join("f.safetensors");
    let output = vgg_wgpu(&[
        "features",
        "--weights",
        "absent.safetensors",
        "--data",
        "builtin",
        "--out",
        path_text(&nowhere),
    ]);
    fails_with(&output, &[path_text(&nowhere), "nothing was computed"]);
    assert!(
        !stderr(&output).contains("absent.safetensors"),
        "{}",
        stderr(&output)
    );
    let output = vgg_wgpu(&[
        "features",
        "--weights",
        model(),
        "--data",
        "builtin",
        "--out",
        path_text(&root),
    ]);
    fails_with(&output, &["is a folder"]);
}

/// `--top 0` was accepted, `--limit 0` gave a misleading message in eval and an empty
/// file in features, and `--top -1` met clap's "unexpected argument".
#[test]
fn counts_below_one_are_refused_where_they_are_typed() {
    for args in [
        [
            "classify",
            "--weights",
            "m.safetensors",
            "--top",
            "0",
            "a.png",
        ]
        .as_slice(),
        &["eval", "--weights", "m.safetensors", "--limit", "0"],
        &[
            "features",
            "--weights",
            "m.safetensors",
            "--data",
            "builtin",
            "--out",
            "f.safetensors",
            "--limit",
            "0",
        ],
    ] {
        let output = vgg_wgpu(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "a usage error: {}",
            stderr(&output)
        );
        fails_with(&output, &["must be at least 1"]);
    }
    for (args, part) in [
        (
            [
                "classify",
                "--weights",
                "m.safetensors",
                "--top",
                "-1",
                "a.png",
            ]
            .as_slice(),
            "'-1' is not a count",
        ),
        (
            &["eval", "--weights", "m.safetensors", "--scales", "-5"],
            "'-5' is not a test scale",
        ),
        (
            &["eval", "--weights", "m.safetensors", "--train-scale", "-5"],
            "'-5' is not a training scale",
        ),
    ] {
        let output = vgg_wgpu(args);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        fails_with(&output, &[part]);
    }
}

/// `--adapter nvidia` on a machine with only llvmpipe suggested installing lavapipe.
#[test]
fn an_adapter_filter_that_matches_nothing_lists_the_adapters() {
    let output = vgg_wgpu(&["--adapter", "no-such-adapter-xyz", "info"]);
    fails_with(
        &output,
        &[
            "name containing 'no-such-adapter-xyz'",
            "The adapters found:",
            "--adapter",
        ],
    );
    assert!(!stderr(&output).contains("apt-get"), "{}", stderr(&output));
}
