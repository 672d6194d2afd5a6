//! The files of a run's output folder (`--out`).

use std::path::{Path, PathBuf};

pub fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("checkpoint.safetensors")
}

pub fn model_path(out: &Path) -> PathBuf {
    out.join("model.safetensors")
}

pub fn metrics_path(out: &Path) -> PathBuf {
    out.join("metrics.jsonl")
}
