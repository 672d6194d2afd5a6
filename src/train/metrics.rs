//! `metrics.jsonl`: one JSON object per logged step and per epoch, appended and flushed
//! as training goes, so a killed run keeps everything logged before it died.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Serialize)]
pub struct StepRecord {
    pub kind: &'static str,
    pub epoch: usize,
    pub step: u64,
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
            .map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: format!("cannot open the metrics log: {e}"),
            })?;
        Ok(MetricsLog {
            file,
            path: path.display().to_string(),
        })
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let line = serde_json::to_string(record).expect("metrics records serialise");
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                message: format!("cannot write the metrics log: {e}"),
            })
    }
}
