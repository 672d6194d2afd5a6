//! The files of a run's output folder (`--out`), and process 0's claim on it.

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

/// The output folder of the run that process 0 writes. An earlier run in it is refused
/// unless this run resumes it or `--overwrite` replaces it; a replaced run stays on disk
/// until the new one has passed every check and is about to write
/// ([`RunFolder::clear_replaced`]).
pub struct RunFolder {
    /// The earlier run's files that `--overwrite` deletes.
    replaced: Vec<PathBuf>,
}

impl RunFolder {
    /// Makes `out` ready for a run: a folder (created if missing) that holds no earlier
    /// run unless this one resumes it, or `overwrite` says to replace it. Deletes nothing.
    pub fn claim(out: &Path, resume: bool, overwrite: bool) -> Result<RunFolder> {
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
        let holds_a_run = [checkpoint_path(out), model_path(out)]
            .iter()
            .any(|p| p.exists());
        if resume || !holds_a_run {
            return Ok(RunFolder { replaced: vec![] });
        }
        if !overwrite {
            return Err(refuse(
                "already holds a training run (checkpoint.safetensors or model.safetensors): \
                 continue it with --resume, start over with --overwrite (deletes it), \
                 or choose another --out folder"
                    .into(),
            ));
        }
        let replaced = [checkpoint_path(out), model_path(out), metrics_path(out)]
            .into_iter()
            .filter(|p| p.exists())
            .collect();
        Ok(RunFolder { replaced })
    }

    /// Deletes the run that `--overwrite` replaces. Called once the new run has read
    /// everything it starts from (an `--init` file in this folder too) and passed every
    /// check, just before it writes.
    pub fn clear_replaced(&mut self) -> Result<()> {
        for path in std::mem::take(&mut self.replaced) {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Io {
                        what: "cannot delete it to start over".into(),
                        path,
                        source: e,
                    })
                }
                _ => {}
            }
        }
        Ok(())
    }
}
