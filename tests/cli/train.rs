//! `vgg-wgpu train`: see tests/cli/main.rs.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{scratch, stderr, vgg_wgpu, vgg_wgpu_command};

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
    vgg_wgpu(&tiny_args(out, extra))
}

/// The arguments of a tiny run into `out`: 8 steps of 8 images per epoch.
fn tiny_args<'a>(out: &'a std::path::Path, extra: &[&'a str]) -> Vec<&'a str> {
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
        out.to_str().expect("UTF-8 temp path"),
    ];
    args.extend_from_slice(extra);
    args
}

/// A run that trains for 1000 epochs in the background, logging every step; it is
/// killed when dropped, so a failed assertion leaves no process behind.
struct Background(Child);

impl Background {
    fn start(out: &std::path::Path) -> Background {
        let args = tiny_args(
            out,
            &["--epochs", "1000", "--workers", "1", "--log-every", "1"],
        );
        let child = vgg_wgpu_command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the vgg-wgpu binary starts");
        Background(child)
    }

    /// Waits (at most two minutes) until `ready` holds, failing if the run ended first.
    fn wait_until(&mut self, what: &str, ready: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !ready() {
            if let Some(status) = self.0.try_wait().unwrap() {
                panic!("the background run ended ({status}) before {what}");
            }
            assert!(Instant::now() < deadline, "no {what} after two minutes");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Background {
    /// Sends `signal` (`TERM`, `INT`) and waits (at most two minutes) for the run's
    /// exit status and what it printed on standard output.
    fn stop_with(&mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let pid = self.0.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {signal} {pid}");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                let mut printed = String::new();
                let stdout = self.0.stdout.as_mut().expect("piped");
                std::io::Read::read_to_string(stdout, &mut printed).unwrap();
                return (status, printed);
            }
            assert!(
                Instant::now() < deadline,
                "still running two minutes after SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// `--overwrite` deletes the earlier run only once the new one has passed its checks:
/// a run that fails them (no full step of 8 × 16 images) leaves the old one as it was.
#[test]
fn an_overwrite_that_fails_its_checks_keeps_the_earlier_run() {
    let out = scratch("overwrite-fails");
    let first = tiny_run(&out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let files = [
        "checkpoint.safetensors",
        "model.safetensors",
        "metrics.jsonl",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();

    let failing = tiny_run(&out, &["--overwrite", "--accumulate", "16"]);
    let message = stderr(&failing);
    assert!(!failing.status.success(), "{message}");
    assert!(message.contains("no full step of 128"), "{message}");
    for (file, bytes) in files.iter().zip(&before) {
        let now = std::fs::read(out.join(file)).unwrap_or_default();
        assert!(
            now == *bytes,
            "{file} changed or was deleted by a run that failed"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// `--init pretrained:` a model inside the folder being overwritten: it is read before
/// the earlier run is deleted, and the new run writes its own model there.
#[test]
fn overwrite_can_start_from_the_model_it_replaces() {
    let out = scratch("overwrite-init");
    let first = tiny_run(&out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let model = out.join("model.safetensors");
    let old = std::fs::read(&model).unwrap();

    let init = format!("pretrained:{}", model.display());
    let over = tiny_run(&out, &["--overwrite", "--init", &init]);
    let message = stderr(&over);
    assert!(over.status.success(), "{message}");
    assert!(message.contains("copied"), "{message}");
    let new = std::fs::read(&model).expect("the new run's model");
    assert!(new != old, "the model was not written again");
    let _ = std::fs::remove_dir_all(&out);
}

/// Two runs in one folder at once: the second is refused, naming the folder and the
/// first run's process, and leaves the first's files alone.
#[test]
fn a_second_run_into_a_folder_in_use_is_refused() {
    let out = scratch("in-use");
    let mut first = Background::start(&out);
    let pid = first.0.id().to_string();
    let (lock, log) = (out.join(".lock"), out.join("metrics.jsonl"));
    first.wait_until("a logged step", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("\"kind\":\"step\""))
    });
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        pid,
        "the lock file"
    );

    for extra in [&[][..], &["--resume"], &["--overwrite"]] {
        let second = tiny_run(&out, extra);
        let message = stderr(&second);
        assert!(!second.status.success(), "{extra:?}: {message}");
        assert!(
            message.contains(&format!(
                "'{}' is in use by another training run (process {pid})",
                out.display()
            )),
            "{extra:?}: {message}"
        );
    }
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "the first run was stopped"
    );
    drop(first);
    let _ = std::fs::remove_dir_all(&out);
}

/// SIGTERM (`docker stop`, a batch system's time limit) stops a run like Ctrl-C: after
/// its step, with a checkpoint that `--resume` continues. Either exits non-zero, with
/// 128 + the signal's number, so a script sees the run did not finish.
#[cfg(unix)]
#[test]
fn sigterm_and_sigint_checkpoint_and_exit_with_the_signals_code() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let out = scratch(&format!("signal-{signal}"));
        let mut run = Background::start(&out);
        let log = out.join("metrics.jsonl");
        run.wait_until("a logged step", || {
            std::fs::read_to_string(&log).is_ok_and(|text| text.contains("\"kind\":\"step\""))
        });
        let (status, printed) = run.stop_with(signal);
        assert_eq!(status.code(), Some(code), "SIG{signal}: {status}");
        assert!(
            printed.contains("interrupted: checkpoint written to"),
            "SIG{signal}: {printed}"
        );
        assert!(out.join("checkpoint.safetensors").exists(), "SIG{signal}");

        let resumed = tiny_run(&out, &["--resume"]);
        assert!(
            resumed.status.success(),
            "SIG{signal}: {}",
            stderr(&resumed)
        );
        assert!(
            out.join("model.safetensors").exists(),
            "SIG{signal}: no model"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// A folder holding only an earlier run's log (it stopped before its first checkpoint)
/// holds a run: its log is not replaced without --overwrite.
#[test]
fn a_folder_with_only_a_metrics_log_is_refused_unless_overwrite() {
    let out = scratch("only-metrics");
    let log = out.join("metrics.jsonl");
    let earlier = "{\"kind\":\"step\",\"epoch\":0,\"step\":1}\n";
    std::fs::write(&log, earlier).unwrap();

    let again = tiny_run(&out, &[]);
    let message = stderr(&again);
    assert!(!again.status.success(), "{message}");
    assert!(
        message.contains("metrics.jsonl") && message.contains("--overwrite"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), earlier);

    let over = tiny_run(&out, &["--overwrite"]);
    assert!(over.status.success(), "{}", stderr(&over));
    assert!(!std::fs::read_to_string(&log).unwrap().contains(earlier));
    let _ = std::fs::remove_dir_all(&out);
}
