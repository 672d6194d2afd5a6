//! `vgg-wgpu train --distributed` under `mpirun` (feature `mpi`; needs Open MPI's
//! `mpirun`, see .ci/setup-tests): 2 processes give the weights of 1, also with 2 devices
//! each, a run resumes with a different number of processes, processes started with
//! different configurations refuse to start, and a process that dies ends the job with
//! the checkpoint intact.
//!
//!     cargo test --features mpi --test mpi_training -- --nocapture

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use vgg_wgpu::model::WeightFile;

const EXE: &str = env!("CARGO_BIN_EXE_vgg-wgpu");

#[path = "data/unreadable_folder.rs"]
mod unreadable_folder;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vgg-wgpu-mpi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A tiny run: 64 built-in images in 8 steps of 8 per epoch (each of 2 processes takes
/// 4 of every 8), `epochs` epochs.
fn tiny_args(out: &Path, epochs: usize) -> Vec<String> {
    [
        "train",
        "--width-divisor",
        "16",
        "--train-images",
        "64",
        "--val-images",
        "16",
        "--batch",
        "8",
        "--workers",
        "1",
        "--seed",
        "3",
        "--epochs",
        &epochs.to_string(),
        "--out",
        out.to_str().expect("UTF-8 temp path"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn mpirun(processes: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-np"])
        .arg(processes.to_string());
    c
}

fn check(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn two_processes_give_the_weights_of_one_and_resume_on_one() {
    let single = out_dir("single");
    check(
        "1 process, 2 epochs",
        Command::new(EXE)
            .args(tiny_args(&single, 2))
            .output()
            .unwrap(),
    );

    // 2 processes for epoch 1 (8 steps), then 1 process resumes for epoch 2.
    let split = out_dir("split");
    check(
        "mpirun -np 2, epoch 1",
        mpirun(2)
            .arg(EXE)
            .args(tiny_args(&split, 1))
            .arg("--distributed")
            .output()
            .unwrap(),
    );
    check(
        "1 process resuming for epoch 2",
        Command::new(EXE)
            .args(tiny_args(&split, 2))
            .arg("--resume")
            .output()
            .unwrap(),
    );
    let load = |dir: &Path| WeightFile::load(&dir.join("model.safetensors")).unwrap();
    let difference = load(&split).max_relative_difference(&load(&single));
    println!("2 processes then 1 vs 1 process: weights differ by {difference:.2e} (relative)");
    assert!(difference <= 1e-5, "weights differ by {difference:e}");
}

#[test]
fn processes_with_different_configurations_refuse_to_start() {
    let out = out_dir("disagree");
    let mut a = tiny_args(&out, 1);
    a.push("--distributed".into());
    let mut b = a.clone();
    b.extend(["--lr".to_string(), "0.02".to_string()]);
    let output = mpirun(1)
        .arg(EXE)
        .args(&a)
        .args([":", "-np", "1", EXE])
        .args(&b)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "must refuse: {stderr}");
    assert!(stderr.contains("lr"), "must name the difference: {stderr}");
    assert!(!out.join("checkpoint.safetensors").exists());
}

#[test]
fn a_process_that_dies_ends_the_job_and_leaves_the_checkpoint_intact() {
    let out = out_dir("dies");
    let mut args = tiny_args(&out, 1000);
    args.extend([
        "--checkpoint-every".into(),
        "2".into(),
        "--distributed".into(),
    ]);
    let mut job = mpirun(2)
        .arg(EXE)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let checkpoint = out.join("checkpoint.safetensors");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint.exists() {
        assert!(Instant::now() < deadline, "no checkpoint within 2 minutes");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Kill one of the training processes (mpirun's children) outright.
    let children = Command::new("pgrep")
        .args(["-P", &job.id().to_string()])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&children.stdout).to_string();
    let victim = pids.split_whitespace().last().expect("mpirun has children");
    assert!(Command::new("kill")
        .args(["-KILL", victim])
        .status()
        .unwrap()
        .success());

    let started = Instant::now();
    let status = loop {
        if let Some(status) = job.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job did not end within 60 s of a process dying"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    job.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    println!(
        "ended {:.1} s after the kill, {status}:\n{stderr}",
        started.elapsed().as_secs_f64()
    );
    assert!(!status.success());
    assert!(
        stderr.contains("signal 9") || stderr.contains("Killed"),
        "mpirun names the death: {stderr}"
    );
    // The last checkpoint is whole: it loads as a model.
    WeightFile::load(&checkpoint).expect("the last checkpoint is intact");
}

#[test]
fn two_processes_of_two_devices_each_give_the_weights_of_one_device() {
    let single = out_dir("one-device");
    check(
        "1 process, 1 device",
        Command::new(EXE)
            .args(tiny_args(&single, 1))
            .output()
            .unwrap(),
    );
    // 4 replicas: each of 2 processes splits its 4 images of every 8 over 2 devices.
    let four = out_dir("four-replicas");
    check(
        "mpirun -np 2 with --devices 0,0",
        mpirun(2)
            .arg(EXE)
            .args(tiny_args(&four, 1))
            .args(["--distributed", "--devices", "0,0"])
            .output()
            .unwrap(),
    );
    let load = |dir: &Path| WeightFile::load(&dir.join("model.safetensors")).unwrap();
    let difference = load(&four).max_relative_difference(&load(&single));
    println!("2 processes × 2 devices vs 1 device: weights differ by {difference:.2e} (relative)");
    assert!(difference <= 1e-5, "weights differ by {difference:e}");
}

/// Each process meets the unreadable images of its own half of a batch: both put the
/// same substitutes in, so 2 processes still train as 1, and process 0 (the only one
/// that speaks) lists every unreadable image once, those of the other half too.
#[test]
fn two_processes_replace_unreadable_images_as_one_and_list_each_once() {
    let data = out_dir("unreadable-data");
    let broken = unreadable_folder::write(&data);
    let args = |out: &Path| {
        let mut args = tiny_args(out, 2);
        args.extend(["--data".into(), data.to_str().expect("UTF-8").into()]);
        args
    };
    let single = out_dir("unreadable-single");
    check(
        "1 process",
        Command::new(EXE).args(args(&single)).output().unwrap(),
    );
    let two = out_dir("unreadable-two");
    let output = check(
        "mpirun -np 2",
        mpirun(2)
            .arg(EXE)
            .args(args(&two))
            .arg("--distributed")
            .output()
            .unwrap(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    for path in &broken {
        let shown = path.display().to_string();
        assert_eq!(stderr.matches(&shown).count(), 1, "{shown} in:\n{stderr}");
    }
    let load = |dir: &Path| WeightFile::load(&dir.join("model.safetensors")).unwrap();
    let difference = load(&two).max_relative_difference(&load(&single));
    println!("2 processes vs 1 over unreadable images: weights differ by {difference:.2e}");
    assert!(difference <= 1e-5, "weights differ by {difference:e}");
    let _ = std::fs::remove_dir_all(&data);
}
