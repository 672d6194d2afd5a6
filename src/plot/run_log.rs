//! A run's `metrics.jsonl` read for drawing: its whole records in step order. What
//! cannot be read (the last line of a killed run is often cut short) is left out and
//! said in `notes`, so a picture is never refused for one bad line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::input_file::{self, InputKind};
use crate::train::run_folder::metrics_path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Step,
    Epoch,
}

/// One line of the log; a value is `None` where the line has none or `null` (a
/// non-finite number is written as `null`).
#[derive(Clone, Debug, Deserialize)]
pub struct Record {
    pub kind: RecordKind,
    /// Step records: the epoch in progress, from 0; epoch records: the epochs done.
    pub epoch: usize,
    /// SGD steps done.
    pub step: u64,
    /// Images trained on so far; absent from logs written before it was recorded.
    #[serde(default)]
    pub images: Option<u64>,
    #[serde(default)]
    pub lr: Option<f64>,
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub images_per_s: Option<f64>,
    #[serde(default)]
    pub train_top1_err: Option<f64>,
    #[serde(default)]
    pub val_loss: Option<f64>,
    #[serde(default)]
    pub val_top1_err: Option<f64>,
    #[serde(default)]
    pub val_top5_err: Option<f64>,
}

pub struct RunLog {
    /// The file read, for messages.
    pub path: PathBuf,
    /// By step; a step's epoch record after its step record.
    pub records: Vec<Record>,
    /// What was left out, and why.
    pub notes: Vec<String>,
}

impl RunLog {
    /// Reads `run`: a training run's folder (its `metrics.jsonl`), or the log itself.
    pub fn read(run: &Path) -> Result<RunLog> {
        let path = log_path(run)?;
        let io = |source| Error::Io {
            path: path.clone(),
            what: "cannot read the metrics log".into(),
            source,
        };
        let file = input_file::open(&path, InputKind::MetricsLog).map_err(io)?;
        let refuse = |message: String| Error::Plot {
            what: path.display().to_string(),
            message,
        };
        let mut log = RunLog {
            path: path.clone(),
            records: Vec::new(),
            notes: Vec::new(),
        };
        log.parse(BufReader::new(file)).map_err(io)?;
        if log.records.is_empty() {
            return Err(refuse(format!(
                "holds no whole record{}: a run writes its first at its first logged step \
                 (--log-every) and at its first epoch end",
                log.notes
                    .first()
                    .map(|note| format!(" ({note})"))
                    .unwrap_or_default()
            )));
        }
        Ok(log)
    }

    /// Reads every line, keeping the whole records and counting the rest.
    fn parse(&mut self, text: impl BufRead) -> std::io::Result<()> {
        let (mut unreadable, mut first_unreadable, mut with_null) = (0, 0, 0);
        for (number, line) in text.split(b'\n').enumerate() {
            let line = line?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = serde_json::from_slice::<serde_json::Value>(&line)
                .ok()
                .and_then(|value| Some((Record::deserialize(&value).ok()?, value)));
            let Some((record, value)) = parsed else {
                unreadable += 1;
                if first_unreadable == 0 {
                    first_unreadable = number + 1;
                }
                continue;
            };
            if value
                .as_object()
                .is_some_and(|o| o.values().any(|v| v.is_null()))
            {
                with_null += 1;
            }
            self.records.push(record);
        }
        let path = self.path.display();
        if unreadable > 0 {
            self.notes.push(format!(
                "{path}: {unreadable} line(s) are not whole records (the first: line \
                 {first_unreadable}; cut short by a kill?): left out"
            ));
        }
        if with_null > 0 {
            self.notes.push(format!(
                "{path}: {with_null} record(s) hold null values (a diverged step?): \
                 those values are left out"
            ));
        }
        self.records
            .sort_by_key(|r| (r.step, r.kind == RecordKind::Epoch));
        Ok(())
    }

    /// Whether any step was logged (`--log-every 0` logs epochs only).
    pub fn has_steps(&self) -> bool {
        self.records.iter().any(|r| r.kind == RecordKind::Step)
    }
}

/// The log of `run`: its folder's `metrics.jsonl`, or `run` itself when it names a
/// `.jsonl` file (anything else, a model say, is not read).
fn log_path(run: &Path) -> Result<PathBuf> {
    let refuse = |message: &str| Error::Plot {
        what: run.display().to_string(),
        message: message.into(),
    };
    let is_log = run.extension().is_some_and(|e| e == "jsonl");
    match (run.exists(), run.is_dir(), is_log) {
        (false, _, _) => Err(refuse("does not exist")),
        (true, true, _) if metrics_path(run).exists() => Ok(metrics_path(run)),
        (true, false, true) => Ok(run.to_path_buf()),
        _ => Err(refuse(
            "holds no metrics.jsonl: give the --out folder of a `vgg-wgpu train` run, \
             or its metrics.jsonl",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> RunLog {
        let mut log = RunLog {
            path: "metrics.jsonl".into(),
            records: Vec::new(),
            notes: Vec::new(),
        };
        log.parse(text.as_bytes()).unwrap();
        log
    }

    #[test]
    fn a_cut_line_and_nulls_are_left_out_and_said() {
        let log = parsed(concat!(
            "{\"kind\":\"step\",\"epoch\":0,\"step\":2,\"loss\":null,\"lr\":0.1}\n",
            "{\"kind\":\"step\",\"epoch\":0,\"step\":1,\"loss\":2.0,\"lr\":0.1}\n",
            "\n",
            "{\"kind\":\"epoch\",\"epoch\":1,\"step\":2,\"val_loss\":1.5}\n",
            "{\"kind\":\"st"
        ));
        let steps: Vec<(u64, RecordKind)> = log.records.iter().map(|r| (r.step, r.kind)).collect();
        assert_eq!(
            steps,
            [
                (1, RecordKind::Step),
                (2, RecordKind::Step),
                (2, RecordKind::Epoch)
            ]
        );
        assert_eq!(log.records[1].loss, None, "null reads as no value");
        assert_eq!(log.notes.len(), 2, "{:?}", log.notes);
        assert!(log.notes[0].contains("line 5"), "{}", log.notes[0]);
        assert!(
            log.notes[1].contains("1 record(s) hold null"),
            "{}",
            log.notes[1]
        );
    }

    /// A log that is a FIFO (opening it would wait for a writer) or a link to a device
    /// (read without end) is refused by its kind, as every input file is.
    #[cfg(unix)]
    #[test]
    fn a_log_that_is_not_a_regular_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("vgg-wgpu-odd-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(metrics_path(&dir))
            .status();
        assert!(made.unwrap().success(), "mkfifo");
        let err = RunLog::read(&dir).err().unwrap().to_string();
        assert!(
            err.contains("FIFO") && err.contains("not a regular file"),
            "{err}"
        );
        std::fs::remove_file(metrics_path(&dir)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", metrics_path(&dir)).unwrap();
        let err = RunLog::read(&dir).err().unwrap().to_string();
        assert!(err.contains("character device"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_without_metrics_is_refused_with_what_to_give() {
        let dir = std::env::temp_dir().join(format!("vgg-wgpu-no-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = RunLog::read(&dir).err().unwrap().to_string();
        assert!(
            err.contains("holds no metrics.jsonl") && err.contains("--out folder"),
            "{err}"
        );
        std::fs::write(metrics_path(&dir), "{\"kind\":\"st").unwrap();
        let err = RunLog::read(&dir).err().unwrap().to_string();
        assert!(
            err.contains("holds no whole record (") && err.contains("line 1"),
            "{err}"
        );
        std::fs::write(dir.join("model.safetensors"), "weights").unwrap();
        let err = RunLog::read(&dir.join("model.safetensors"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("holds no metrics.jsonl"), "{err}");
        let err = RunLog::read(&dir.join("missing"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
