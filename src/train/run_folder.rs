//! The files of a run's output folder (`--out`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("checkpoint.safetensors")
}

pub fn model_path(out: &Path) -> PathBuf {
    out.join("model.safetensors")
}

pub fn metrics_path(out: &Path) -> PathBuf {
    out.join("metrics.jsonl")
}

/// The training curves, redrawn from the metrics at each epoch end (`crate::plot`).
pub fn curves_path(out: &Path) -> PathBuf {
    out.join("curves.svg")
}

/// Makes `out` ready for a run: a folder (created if missing) that holds no earlier
/// run unless this one resumes it, or `overwrite` says to delete it.
pub fn prepare(out: &Path, resume: bool, overwrite: bool) -> Result<()> {
    let refuse = |message: String| Error::InvalidArgument {
        op: "--out",
        message: format!("'{}' {message}", out.display()),
    };
    if out.exists() && !out.is_dir() {
        return Err(refuse(
            "is a file; --out must be a folder (it will hold checkpoint.safetensors, \
             model.safetensors and metrics.jsonl)"
                .into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        what: "cannot create the output folder".into(),
        source,
    })?;
    let earlier: Vec<PathBuf> = [checkpoint_path(out), model_path(out)]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    if resume || earlier.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(refuse(
            "already holds a training run (checkpoint.safetensors or model.safetensors): \
             continue it with --resume, start over with --overwrite (deletes it), \
             or choose another --out folder"
                .into(),
        ));
    }
    for path in earlier
        .into_iter()
        .chain([metrics_path(out)])
        .filter(|p| p.exists())
    {
        std::fs::remove_file(&path).map_err(|source| Error::Io {
            what: "cannot delete it to start over".into(),
            path,
            source,
        })?;
    }
    Ok(())
}
