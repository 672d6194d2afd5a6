//! The files of a run's output folder (`--out`), and process 0's claim on it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
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

/// `--cache-features`: the frozen layers' output for every image (`super::feature_file`).
pub fn features_path(out: &Path) -> PathBuf {
    out.join("features.cache")
}

/// The lock file whose exclusive lock marks the folder as in use by a run; it holds that
/// run's process id. It is never deleted: a lock on a deleted file would not exclude a run
/// that creates a new one.
fn lock_path(out: &Path) -> PathBuf {
    out.join(".lock")
}

/// The output folder of the run that process 0 writes, locked for the run's life so that
/// no second run writes into it. An earlier run in it is refused unless this run resumes
/// it or `--overwrite` replaces it; a replaced run stays on disk until the new one has
/// passed every check and is about to write ([`RunFolder::clear_replaced`]).
pub struct RunFolder {
    /// Holds the lock until the run ends (the system releases it if the process dies).
    _lock: File,
    /// False on a file system without locks, where the run goes on unguarded.
    locked: bool,
    /// The earlier run's files that `--overwrite` deletes.
    replaced: Vec<PathBuf>,
}

impl RunFolder {
    /// Makes `out` ready for a run: a folder (created if missing), locked, that holds no
    /// earlier run unless this one resumes it, or `overwrite` says to replace it. Deletes
    /// nothing.
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
        let (lock, locked) = lock(out)?;
        // A log alone is a run too: one stopped before its first checkpoint.
        let earlier: Vec<PathBuf> = [checkpoint_path(out), model_path(out), metrics_path(out)]
            .into_iter()
            .filter(|p| p.exists())
            .collect();
        if resume || earlier.is_empty() {
            return Ok(RunFolder {
                _lock: lock,
                locked,
                replaced: vec![],
            });
        }
        if !overwrite {
            return Err(refuse(
                "already holds a training run (checkpoint.safetensors, model.safetensors or \
                 metrics.jsonl): continue it with --resume, start over with --overwrite \
                 (deletes it), or choose another --out folder"
                    .into(),
            ));
        }
        // The old run's picture and feature cache go with it.
        let replaced = earlier
            .into_iter()
            .chain([curves_path(out), features_path(out)])
            .filter(|p| p.exists())
            .collect();
        Ok(RunFolder {
            _lock: lock,
            locked,
            replaced,
        })
    }

    /// What the user should know when the folder could not be locked.
    pub fn unguarded_note(&self, out: &Path) -> Option<String> {
        (!self.locked).then(|| {
            format!(
                "the file system of '{}' cannot lock files: nothing stops a second run from writing into it at the same time",
                out.display()
            )
        })
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

/// Takes the exclusive lock on `out`'s lock file and records this process's id in it, or
/// refuses if another run holds it, naming that run's process.
fn lock(out: &Path) -> Result<(File, bool)> {
    let path = lock_path(out);
    let io = |what: &str| {
        let path = path.clone();
        let what = what.to_string();
        move |source| Error::Io { path, what, source }
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("cannot open the output folder's lock file"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = holder(&mut file).map_or(String::new(), |pid| format!(" (process {pid})"));
            return Err(Error::InvalidArgument {
                op: "--out",
                message: format!(
                    "'{}' is in use by another training run{holder}: wait for it to end or \
                     stop it, or choose another --out folder",
                    out.display()
                ),
            });
        }
        // A file system without locks (some cluster file systems): train unguarded
        // rather than not at all.
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            return Ok((file, false));
        }
        Err(TryLockError::Error(e)) => return Err(io("cannot lock the output folder")(e)),
    }
    file.set_len(0)
        .and_then(|()| write!(file, "{}", std::process::id()))
        .map_err(io("cannot write this run's process id into the lock file"))?;
    Ok((file, true))
}

/// The process id that the run holding the lock wrote into the lock file, if readable.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.take(20).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder claimed twice by one process is refused by name the second time, and
    /// only a folder that could not be locked gets the unguarded note.
    #[test]
    fn a_claimed_folder_is_refused_and_a_locked_one_needs_no_note() {
        let out = std::env::temp_dir().join(format!("vgg-wgpu-claim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let first = RunFolder::claim(&out, false, false).unwrap();
        assert_eq!(first.unguarded_note(&out), None);
        let second = RunFolder::claim(&out, false, false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            second.contains("in use by another training run"),
            "{second}"
        );
        let unlocked = RunFolder {
            _lock: File::open(lock_path(&out)).unwrap(),
            locked: false,
            replaced: vec![],
        };
        let note = unlocked.unguarded_note(&out).unwrap();
        assert!(note.contains("cannot lock files"), "{note}");
        drop(first);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
