//! From a run's records to the points of a picture: where each record falls on the
//! x-axis, the values of one metric, their smoothing and thinning, and where the
//! learning rate was divided.

use std::str::FromStr;

use super::metric::Metric;
use super::run_log::{Record, RecordKind, RunLog};
use crate::error::{Error, Result};

/// What a picture's x-axis counts. Images seen compares runs of different batch
/// sizes, whose steps are not alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    Images,
    Epochs,
}

impl XAxis {
    pub fn label(self) -> &'static str {
        match self {
            XAxis::Images => "images seen",
            XAxis::Epochs => "epochs",
        }
    }
}

impl FromStr for XAxis {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<XAxis, String> {
        match name {
            "images" => Ok(XAxis::Images),
            "epochs" => Ok(XAxis::Epochs),
            _ => Err(format!("unknown x-axis '{name}'; known: images, epochs")),
        }
    }
}

/// Points drawn for one metric, `(x, value)` by x.
pub type Points = Vec<(f64, f64)>;

/// Where a run's records fall on the x-axis.
pub struct Placement {
    axis: XAxis,
    /// Images per SGD step: fixed for a run (a resumed run keeps its batch), so the
    /// records of a log older than the `images` field are placed by their step.
    images_per_step: f64,
    /// The step at the end of each finished epoch, in order.
    epoch_ends: Vec<u64>,
}

impl Placement {
    pub fn of(log: &RunLog, axis: XAxis) -> Result<Placement> {
        let refuse = |message: &str| Error::Plot {
            what: log.path.display().to_string(),
            message: message.into(),
        };
        let images_per_step = log
            .records
            .iter()
            .find_map(|r| Some(r.images? as f64 / Some(r.step).filter(|&s| s > 0)? as f64))
            .unwrap_or(0.0);
        let epoch_ends: Vec<u64> = log
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Epoch)
            .map(|r| r.step)
            .collect();
        match axis {
            XAxis::Images if images_per_step == 0.0 => Err(refuse(
                "was written before the logs counted images seen: draw it with --x epochs",
            )),
            XAxis::Epochs if epoch_ends.is_empty() => {
                Err(refuse("has no finished epoch yet: draw it with --x images"))
            }
            _ => Ok(Placement {
                axis,
                images_per_step,
                epoch_ends,
            }),
        }
    }

    /// `None` for a step of an epoch whose length is not known yet on the epochs axis.
    pub fn x(&self, record: &Record) -> Option<f64> {
        match (self.axis, record.kind) {
            (XAxis::Images, _) => Some(match record.images {
                Some(images) => images as f64,
                None => record.step as f64 * self.images_per_step,
            }),
            (XAxis::Epochs, RecordKind::Epoch) => Some(record.epoch as f64),
            (XAxis::Epochs, RecordKind::Step) => self.epoch_fraction(record),
        }
    }

    /// `epoch` plus how far into it `step` is; an epoch not finished yet is taken to
    /// be as long as the one before (epochs differ only by skipped steps).
    fn epoch_fraction(&self, record: &Record) -> Option<f64> {
        let end_of = |epoch: usize| match epoch {
            0 => Some(0),
            _ => self.epoch_ends.get(epoch - 1).copied(),
        };
        let start = end_of(record.epoch)?;
        let length = match end_of(record.epoch + 1) {
            Some(end) => end.checked_sub(start)?,
            None => start.checked_sub(end_of(record.epoch.checked_sub(1)?)?)?,
        };
        let into = record.step.checked_sub(start)?;
        (length > 0).then(|| record.epoch as f64 + into as f64 / length as f64)
    }
}

/// The values of `metric` in `log`, by x. A per-step metric comes from the epoch
/// records where no step was logged (`--log-every 0`).
pub fn points(log: &RunLog, placement: &Placement, metric: Metric) -> Points {
    let kind = match metric.per_step() && log.has_steps() {
        true => RecordKind::Step,
        false => RecordKind::Epoch,
    };
    let mut points: Points = log
        .records
        .iter()
        .filter(|r| r.kind == kind)
        .filter_map(|r| Some((placement.x(r)?, metric.value(r)?)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// Where the learning rate went down: the x of the last record before each drop.
pub fn lr_drops(log: &RunLog, placement: &Placement) -> Vec<f64> {
    let with_lr: Vec<(f64, f64)> = log
        .records
        .iter()
        .filter_map(|r| Some((placement.x(r)?, r.lr?)))
        .collect();
    let mut drops: Vec<f64> = with_lr
        .windows(2)
        .filter(|pair| pair[1].1 < pair[0].1)
        .map(|pair| pair[0].0)
        .collect();
    drops.dedup();
    drops
}

/// An exponential moving average over about a fortieth of the points, corrected for
/// its start at zero so that the first points are not pulled down.
pub fn smoothed(points: &[(f64, f64)]) -> Points {
    let span = (points.len() as f64 / 40.0).max(1.0);
    let keep = 1.0 - 1.0 / span;
    let (mut average, mut weight) = (0.0, 0.0);
    points
        .iter()
        .map(|&(x, y)| {
            average = keep * average + (1.0 - keep) * y;
            weight = keep * weight + (1.0 - keep);
            (x, average / weight)
        })
        .collect()
}

/// At most about `max` points: consecutive runs of points each give their lowest and
/// highest, so spikes stay visible.
pub fn thinned(points: &[(f64, f64)], max: usize) -> Points {
    if points.len() <= max {
        return points.to_vec();
    }
    let bucket = points.len().div_ceil(max / 2);
    let mut kept = Vec::with_capacity(max + 2);
    for run in points.chunks(bucket) {
        let by_value = |a: &&(f64, f64), b: &&(f64, f64)| a.1.total_cmp(&b.1);
        let low = run.iter().min_by(by_value).expect("chunks are not empty");
        let high = run.iter().max_by(by_value).expect("chunks are not empty");
        match low.0 <= high.0 {
            true => kept.extend([*low, *high]),
            false => kept.extend([*high, *low]),
        }
    }
    kept.dedup();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: RecordKind, epoch: usize, step: u64, lr: f64) -> Record {
        Record {
            kind,
            epoch,
            step,
            images: None,
            lr: Some(lr),
            loss: Some(1.0),
            images_per_s: None,
            train_top1_err: None,
            val_loss: None,
            val_top1_err: None,
            val_top5_err: None,
        }
    }

    /// Two epochs of 4 steps and half of a third, logged every 2 steps; the rate
    /// divided after the first epoch.
    fn log() -> RunLog {
        use RecordKind::{Epoch, Step};
        let mut records = vec![
            record(Step, 0, 2, 0.1),
            record(Step, 0, 4, 0.1),
            record(Epoch, 1, 4, 0.1),
            record(Step, 1, 6, 0.01),
            record(Step, 1, 8, 0.01),
            record(Epoch, 2, 8, 0.01),
            record(Step, 2, 10, 0.01),
        ];
        records[3].images = Some(6 * 32);
        RunLog {
            path: "metrics.jsonl".into(),
            records,
            notes: Vec::new(),
        }
    }

    #[test]
    fn records_are_placed_by_images_or_by_epochs() {
        let log = log();
        let images = Placement::of(&log, XAxis::Images).unwrap();
        let xs: Vec<f64> = log.records.iter().filter_map(|r| images.x(r)).collect();
        assert_eq!(xs, [64.0, 128.0, 128.0, 192.0, 256.0, 256.0, 320.0]);
        let epochs = Placement::of(&log, XAxis::Epochs).unwrap();
        let xs: Vec<f64> = log.records.iter().filter_map(|r| epochs.x(r)).collect();
        assert_eq!(xs, [0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 2.5]);
        assert_eq!(lr_drops(&log, &epochs), [1.0]);
    }

    #[test]
    fn an_axis_the_log_cannot_give_is_refused_with_the_other() {
        let mut log = log();
        log.records[3].images = None;
        let err = Placement::of(&log, XAxis::Images)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--x epochs"), "{err}");
        log.records.retain(|r| r.kind == RecordKind::Step);
        let err = Placement::of(&log, XAxis::Epochs)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no finished epoch") && err.contains("--x images"),
            "{err}"
        );
    }

    #[test]
    fn thinning_keeps_the_spikes_and_smoothing_starts_at_the_first_value() {
        let mut points: Points = (0..10_000).map(|i| (i as f64, 1.0)).collect();
        points[5_000].1 = 50.0;
        let thin = thinned(&points, 500);
        assert!(thin.len() <= 502, "{}", thin.len());
        assert!(thin.contains(&(5_000.0, 50.0)), "the spike is kept");
        let smooth = smoothed(&[(0.0, 4.0), (1.0, 4.0), (2.0, 4.0)]);
        assert!(
            smooth.iter().all(|p| (p.1 - 4.0).abs() < 1e-12),
            "{smooth:?}"
        );
    }
}
