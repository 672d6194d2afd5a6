//! The `vgg-wgpu` binary as a user meets it: mistakes, bad input, exit codes and the
//! messages that say what to do. Each module covers one group of subcommands.

mod bench;
mod eval;
mod fine_tune;
mod imagenet_names;
mod outputs;
mod plot;
mod readme_run;
mod special_files;
mod terminal;
mod train;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the built `vgg-wgpu` binary with `args` and returns what it printed and its
/// exit status. Mesa's drivers want a runtime directory even when headless.
pub fn vgg_wgpu(args: &[&str]) -> Output {
    vgg_wgpu_command(args)
        .output()
        .expect("the vgg-wgpu binary starts")
}

/// As [`vgg_wgpu`], run in the folder `dir` (for what it writes by default).
pub fn vgg_wgpu_in(dir: &Path, args: &[&str]) -> Output {
    vgg_wgpu_command(args)
        .current_dir(dir)
        .output()
        .expect("the vgg-wgpu binary starts")
}

/// As [`vgg_wgpu`], but the test fails (and the process is killed) when it runs longer
/// than `limit`: for inputs that used to make it hang.
pub fn vgg_wgpu_within(limit: Duration, args: &[&str]) -> Output {
    let mut child = vgg_wgpu_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the vgg-wgpu binary starts");
    let start = Instant::now();
    while child
        .try_wait()
        .expect("the process can be waited for")
        .is_none()
    {
        if start.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("killed process reaped");
            panic!(
                "vgg-wgpu {args:?} still ran after {limit:?}; it printed: {}",
                stderr(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("the output is read")
}

/// The command `vgg_wgpu` runs, for a test that starts it in the background.
pub fn vgg_wgpu_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vgg-wgpu"));
    command.args(args).env(
        "XDG_RUNTIME_DIR",
        std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
    );
    command
}

/// The process's standard error as text, for assertions on messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An empty scratch folder for this test process, named `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vgg-wgpu-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}
