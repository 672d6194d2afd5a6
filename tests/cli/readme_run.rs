//! The README's default training run (`vgg-wgpu train` with no options) shows its output
//! line for line; its first epoch is run again here and must print the same losses and
//! errors. Speeds and times are left out: they are the machine's, not the program's.
//! The numbers are those of one adapter (different kernels sum in another order), so
//! on any other the test says so and checks nothing.

use super::{scratch, stderr, vgg_wgpu};

const README: &str = include_str!("../../README.md");

/// The adapter the README's run was measured on, as `vgg-wgpu info` names it.
const README_ADAPTER: &str = "llvmpipe (LLVM 15.0.6, 256 bits)";

/// `epoch   1: train loss … top-5 err …%`, without the speed and time after it.
fn first_epoch_numbers(text: &str) -> Option<&str> {
    let line = text.lines().find(|l| l.starts_with("epoch   1: "))?;
    line.rsplit_once(" | ").map(|(numbers, _speed)| numbers)
}

#[test]
fn the_readme_default_run_prints_todays_first_epoch() {
    let info = vgg_wgpu(&["info"]);
    let adapter = String::from_utf8_lossy(&info.stdout).into_owned();
    if !adapter.contains(&format!("chosen: {README_ADAPTER}")) {
        eprintln!(
            "SKIPPED: the README's run was measured on {README_ADAPTER}, and this adapter is another:\n{adapter}"
        );
        return;
    }
    let readme = first_epoch_numbers(README).expect("the README shows the default run's epoch 1");
    let out = scratch("readme-run");
    let run = vgg_wgpu(&["train", "--epochs", "1", "--out", out.to_str().unwrap()]);
    let printed = stderr(&run);
    assert!(run.status.success(), "{printed}");
    let today = first_epoch_numbers(&printed).expect("an epoch line");
    assert_eq!(
        today, readme,
        "the README's default run no longer matches: run `vgg-wgpu train` and show its output there"
    );
}
