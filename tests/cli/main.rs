//! The `vgg-wgpu` binary as a user meets it: mistakes, bad input, exit codes and the
//! messages that say what to do. Each module covers one group of subcommands.

mod bench;
mod eval;
mod fine_tune;
mod imagenet_names;
mod train;

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the built `vgg-wgpu` binary with `args` and returns what it printed and its
/// exit status. Mesa's drivers want a runtime directory even when headless.
pub fn vgg_wgpu(args: &[&str]) -> Output {
    vgg_wgpu_command(args)
        .output()
        .expect("the vgg-wgpu binary starts")
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
