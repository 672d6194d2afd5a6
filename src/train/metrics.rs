//! `metrics.jsonl`: one JSON object per logged step and per epoch, appended and flushed
//! as training goes, so a killed run keeps everything logged before it died.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::input_file::{self, InputKind};

#[derive(Serialize)]
pub struct StepRecord {
    pub kind: &'static str,
    pub epoch: usize,
    pub step: u64,
    /// Images trained on so far: compares runs of different batch sizes.
    pub images: u64,
    pub loss: f64,
    pub top1_err: f64,
    pub lr: f32,
    pub images_per_s: f64,
    /// Data-parallel training: bytes of gradients this process moved between devices,
    /// host and other processes in the step, and the host time it took (0 with one
    /// replica).
    pub exchange_bytes: u64,
    pub exchange_seconds: f64,
}

#[derive(Serialize)]
pub struct EpochRecord {
    pub kind: &'static str,
    pub epoch: usize,
    pub step: u64,
    pub images: u64,
    pub loss: f64,
    pub lr: f32,
    pub images_per_s: f64,
    pub train_top1_err: f64,
    pub val_loss: f64,
    pub val_top1_err: f64,
    pub val_top5_err: f64,
    pub seconds: f64,
}

pub struct MetricsLog {
    file: File,
    path: String,
}

impl MetricsLog {
    /// Opens `path` for appending: a resumed run continues the same log, a fresh one
    /// (`fresh`) starts it empty, so the log holds one run.
    pub fn open(path: &Path, fresh: bool) -> Result<MetricsLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .truncate(false)
            .open(path)
            .and_then(|file| match fresh {
                true => file.set_len(0).map(|_| file),
                false => Ok(file),
            })
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                what: "cannot open the metrics log".into(),
                source,
            })?;
        Ok(MetricsLog {
            file,
            path: path.display().to_string(),
        })
    }

    /// Opens the log of a run resumed from a checkpoint taken after `step` steps and
    /// `epochs_done` whole epochs, first dropping what was logged after it (a killed
    /// run logs steps past its last checkpoint, which the resumed run logs again).
    pub fn resume(path: &Path, step: u64, epochs_done: usize) -> Result<MetricsLog> {
        let io = |source: std::io::Error| Error::Io {
            path: path.to_path_buf(),
            what: "cannot rewrite the metrics log to the checkpoint's step".into(),
            source,
        };
        let old = match input_file::read_to_string(path, InputKind::MetricsLog) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let before_checkpoint = |line: &&str| {
            let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
                return false; // a line cut short by the kill
            };
            let field = |name: &str| record.get(name).and_then(|v| v.as_u64());
            match record.get("kind").and_then(|k| k.as_str()) {
                Some("epoch") => field("epoch").is_some_and(|e| e <= epochs_done as u64),
                _ => field("step").is_some_and(|s| s <= step),
            }
        };
        let kept: String = old
            .lines()
            .filter(before_checkpoint)
            .map(|line| format!("{line}\n"))
            .collect();
        crate::atomic_file::write(path, kept.as_bytes()).map_err(io)?;
        MetricsLog::open(path, false)
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let line = serde_json::to_string(record).expect("metrics records serialise");
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|source| Error::Io {
                path: self.path.clone().into(),
                what: "cannot write the metrics log".into(),
                source,
            })
    }
}
