//! `vgg-wgpu train`: see tests/cli/main.rs.

use super::{scratch, stderr, vgg_wgpu};

/// Hyper-parameters that cannot train are refused while parsing, before any set-up,
/// with a message naming the option and the allowed range.
#[test]
fn hyper_parameters_out_of_range_are_refused_at_parse_time() {
    for (option, value, expected) in [
        ("--lr", "-1", "positive finite"),
        ("--lr", "nan", "positive finite"),
        ("--lr", "0", "positive finite"),
        ("--momentum", "nan", "below 1"),
        ("--momentum", "1", "below 1"),
        ("--dropout", "1.5", "below 1"),
        ("--weight-decay", "-1e-4", "positive finite"),
        ("--accumulate", "0", "at least 1"),
        ("--checkpoint-every", "0", "at least 1"),
    ] {
        let output = vgg_wgpu(&[
            "train",
            option,
            value,
            "--out",
            "/nonexistent/never-written",
        ]);
        let message = stderr(&output);
        assert!(!output.status.success(), "{option} {value} accepted");
        assert!(
            message.contains(option) && message.contains(expected),
            "{option} {value}: {message}"
        );
        assert!(
            !message.contains("adapter:"),
            "{option} {value} was refused only after opening the GPU: {message}"
        );
    }
}

fn tiny_run(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--epochs", "1", "--workers", "1"];
    args.extend_from_slice(extra);
    tiny_run_with(out, &args)
}

/// As `tiny_run`, with the epochs and the loader's threads left to `extra`.
fn tiny_run_with(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let out = out.to_str().expect("UTF-8 temp path");
    let mut args = vec![
        "train",
        "--width-divisor",
        "16",
        "--train-images",
        "64",
        "--val-images",
        "32",
        "--batch",
        "8",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    vgg_wgpu(&args)
}

/// A second run into the same folder neither destroys the first nor appends to its
/// log: it refuses and says how to go on; `--overwrite` starts over with one run's log.
#[test]
fn training_into_an_earlier_run_is_refused_unless_overwrite() {
    let out = std::env::temp_dir().join(format!("vgg-wgpu-cli-rerun-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let first = tiny_run(&out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let model = std::fs::read(out.join("model.safetensors")).unwrap();
    let log = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();

    let again = tiny_run(&out, &["--seed", "1"]);
    let message = stderr(&again);
    assert!(!again.status.success(), "{message}");
    assert!(
        message.contains("--resume") && message.contains("--overwrite"),
        "{message}"
    );
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), model);

    let over = tiny_run(&out, &["--overwrite"]);
    assert!(over.status.success(), "{}", stderr(&over));
    let new_log = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(
        new_log.lines().count(),
        log.lines().count(),
        "one run's log"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// curves.svg is a picture, not a result: a run that cannot write it (here a folder
/// holds its place) warns and trains to its end.
#[test]
fn a_picture_that_cannot_be_written_is_a_warning_not_the_end_of_the_run() {
    let out = scratch("unwritable-curves");
    std::fs::create_dir_all(out.join("curves.svg").join("in-the-way")).unwrap();
    let run = tiny_run(&out, &[]);
    let message = stderr(&run);
    assert!(run.status.success(), "{message}");
    assert!(
        message.contains("warning: curves.svg not updated"),
        "{message}"
    );
    assert!(out.join("model.safetensors").exists());
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(left.is_empty(), "partial pictures left: {left:?}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn out_naming_a_file_says_it_must_be_a_folder() {
    let file = std::env::temp_dir().join(format!("vgg-wgpu-cli-out-file-{}", std::process::id()));
    std::fs::write(&file, b"not a folder").unwrap();
    let output = tiny_run(&file, &[]);
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(message.contains("must be a folder"), "{message}");
    let _ = std::fs::remove_file(&file);
}

/// `--resume` continues the run the checkpoint holds: an option that changes what it
/// computes is refused by name; where it writes, how it loads and how long it runs
/// may change.
#[test]
fn resuming_with_changed_options_names_the_first_difference() {
    let out = std::env::temp_dir().join(format!("vgg-wgpu-cli-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let first = tiny_run(&out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));

    let changed = tiny_run_with(&out, &["--resume", "--epochs", "2", "--seed", "1"]);
    let message = stderr(&changed);
    assert!(!changed.status.success(), "{message}");
    assert!(
        message.contains("started with --seed 0, now --seed 1") && message.contains("--overwrite"),
        "{message}"
    );

    let free = [
        "--resume",
        "--epochs",
        "2",
        "--workers",
        "2",
        "--log-every",
        "3",
    ];
    let resumed = tiny_run_with(&out, &free);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let _ = std::fs::remove_dir_all(&out);
}

/// photos/<name>/*.png: four flat-coloured images per class name.
fn colour_folders(root: &std::path::Path, names: &[&str]) {
    for (c, name) in names.iter().enumerate() {
        std::fs::create_dir_all(root.join(name)).unwrap();
        for i in 0..4u8 {
            let pixel = image::Rgb([40 * c as u8, 30 * i, 200 - 40 * c as u8]);
            image::RgbImage::from_pixel(36, 36, pixel)
                .save(root.join(name).join(format!("{i}.png")))
                .unwrap();
        }
    }
}

/// A class folder added after a run started is named on --resume, with the way on;
/// the tensor-shape error it used to give said nothing of classes.
#[test]
fn resuming_after_a_class_was_added_names_the_new_class() {
    let dir = scratch("resume-new-class");
    let photos = dir.join("photos");
    colour_folders(&photos, &["cat", "dog"]);
    let out = dir.join("run");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            photos.to_str().unwrap(),
            "--val-split",
            "0.25",
            "--width-divisor",
            "16",
            "--batch",
            "2",
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        vgg_wgpu(&args)
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    colour_folders(&photos, &["cat", "dog", "fox"]);
    let resumed = run(&["--resume"]);
    let message = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(1), "{message}");
    assert!(
        message.contains("trained on 2 classes and the data now has 3 (new: fox)")
            && message.contains("--init pretrained:"),
        "{message}"
    );
}
