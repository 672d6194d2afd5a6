//! What one run brings to a picture: per metric the points to draw, thinned to what a
//! picture can show, and where its learning rate was divided.

use super::metric::{Metric, Panel};
use super::run_log::RunLog;
use super::series::{lr_drops, points, smoothed, thinned, Placement, Points, XAxis};
use crate::error::Result;

/// Points per line: about one per pixel of the plot's width.
const MAX_POINTS: usize = 800;

pub struct Curve {
    pub metric: Metric,
    /// The values as logged, drawn faint under a per-step metric's smoothed line;
    /// empty for per-epoch metrics.
    pub raw: Points,
    /// The line: smoothed for a per-step metric, else the values themselves.
    pub line: Points,
}

pub struct RunCurves {
    /// The legend's name of the run; empty when the picture has one run.
    pub name: String,
    /// Only the metrics that have values in this run.
    pub curves: Vec<Curve>,
    pub lr_drops: Vec<f64>,
}

impl RunCurves {
    pub fn of(name: String, log: &RunLog, metrics: &[Metric], axis: XAxis) -> Result<RunCurves> {
        let placement = Placement::of(log, axis)?;
        let curves = metrics
            .iter()
            .map(|&metric| {
                let mut values = points(log, &placement, metric);
                if metric.panel() == Panel::Loss {
                    values.retain(|&(_, v)| v > 0.0); // drawn on a log scale
                }
                match metric.per_step() {
                    true => Curve {
                        metric,
                        raw: thinned(&values, MAX_POINTS),
                        line: thinned(&smoothed(&values), MAX_POINTS),
                    },
                    false => Curve {
                        metric,
                        raw: Vec::new(),
                        line: thinned(&values, MAX_POINTS),
                    },
                }
            })
            .filter(|curve| !curve.line.is_empty())
            .collect();
        Ok(RunCurves {
            name,
            curves,
            lr_drops: lr_drops(log, &placement),
        })
    }

    /// The values of the run's curves in `panel`.
    pub fn values_in(&self, panel: Panel) -> impl Iterator<Item = f64> + '_ {
        self.curves
            .iter()
            .filter(move |c| c.metric.panel() == panel)
            .flat_map(|c| c.raw.iter().chain(&c.line))
            .map(|&(_, v)| v)
    }

    /// Where the run's points and drops end on the x-axis.
    pub fn x_end(&self) -> f64 {
        let curves = self.curves.iter().flat_map(|c| c.raw.iter().chain(&c.line));
        curves
            .map(|&(x, _)| x)
            .chain(self.lr_drops.iter().copied())
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::run_log::{Record, RecordKind};

    #[test]
    fn a_long_run_is_thinned_to_what_a_picture_shows() {
        let step = |step: u64| Record {
            kind: RecordKind::Step,
            epoch: 0,
            step,
            images: Some(step * 32),
            lr: Some(0.01),
            loss: Some(1.0 + (step % 7) as f64),
            images_per_s: Some(100.0),
            train_top1_err: None,
            val_loss: None,
            val_top1_err: None,
            val_top5_err: None,
        };
        let log = RunLog {
            path: "metrics.jsonl".into(),
            records: (1..=50_000).map(step).collect(),
            notes: Vec::new(),
        };
        let run = RunCurves::of(String::new(), &log, &[Metric::Loss], XAxis::Images).unwrap();
        let loss = &run.curves[0];
        assert!(loss.raw.len() <= MAX_POINTS + 2, "{}", loss.raw.len());
        assert!(loss.line.len() <= MAX_POINTS + 2, "{}", loss.line.len());
        let end = loss.raw.last().map(|p| p.0).unwrap_or_default();
        assert!(end > 49_000.0 * 32.0, "to the end: {end}");
    }
}
