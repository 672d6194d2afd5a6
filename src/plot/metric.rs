//! The metrics a picture can show, named as `metrics.jsonl` names them, and the panel
//! each is drawn in.

use std::fmt;
use std::str::FromStr;

use super::run_log::{Record, RecordKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Loss,
    ValLoss,
    TrainTop1Err,
    ValTop1Err,
    ValTop5Err,
    ImagesPerS,
}

/// The panels of a picture, top to bottom: the loss on a log scale (a diverging run's
/// tenfold loss leaves the rest readable), the errors, and the speed on its own (it
/// alone differs between a resumed run and an uninterrupted one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    Loss,
    Error,
    Timing,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::Loss,
        Metric::ValLoss,
        Metric::TrainTop1Err,
        Metric::ValTop1Err,
        Metric::ValTop5Err,
        Metric::ImagesPerS,
    ];

    /// What a picture shows unless told otherwise.
    pub const DEFAULT: [Metric; 5] = [
        Metric::Loss,
        Metric::ValLoss,
        Metric::ValTop1Err,
        Metric::ValTop5Err,
        Metric::ImagesPerS,
    ];

    /// The record field, which is also the name `--metric` takes.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Loss => "loss",
            Metric::ValLoss => "val_loss",
            Metric::TrainTop1Err => "train_top1_err",
            Metric::ValTop1Err => "val_top1_err",
            Metric::ValTop5Err => "val_top5_err",
            Metric::ImagesPerS => "images_per_s",
        }
    }

    /// The words of the picture's legend.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Loss => "training loss",
            Metric::ValLoss => "validation loss",
            Metric::TrainTop1Err => "training top-1 error",
            Metric::ValTop1Err => "validation top-1 error",
            Metric::ValTop5Err => "validation top-5 error",
            Metric::ImagesPerS => "images/s",
        }
    }

    pub fn panel(self) -> Panel {
        match self {
            Metric::Loss | Metric::ValLoss => Panel::Loss,
            Metric::TrainTop1Err | Metric::ValTop1Err | Metric::ValTop5Err => Panel::Error,
            Metric::ImagesPerS => Panel::Timing,
        }
    }

    /// Logged at every logged step (noisy: drawn smoothed over the faint raw points),
    /// rather than once per epoch.
    pub fn per_step(self) -> bool {
        matches!(self, Metric::Loss | Metric::ImagesPerS)
    }

    /// Drawn dashed, to tell it from the solid line that shares its panel and colour.
    pub fn dashed(self) -> bool {
        matches!(self, Metric::ValLoss | Metric::ValTop5Err)
    }

    /// Its value in `record`: `None` where the record has none, or `null` (a diverged
    /// step). Step records name the training top-1 error `top1_err`.
    pub fn value(self, record: &Record) -> Option<f64> {
        let value = match (self, record.kind) {
            (Metric::Loss, _) => record.loss,
            (Metric::ValLoss, RecordKind::Epoch) => record.val_loss,
            (Metric::TrainTop1Err, RecordKind::Epoch) => record.train_top1_err,
            (Metric::ValTop1Err, RecordKind::Epoch) => record.val_top1_err,
            (Metric::ValTop5Err, RecordKind::Epoch) => record.val_top5_err,
            (Metric::ImagesPerS, _) => record.images_per_s,
            (_, RecordKind::Step) => None,
        };
        value.filter(|v| v.is_finite())
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(name: &str) -> Result<Metric, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                format!("unknown metric '{name}'; known: {}", known.join(", "))
            })
    }
}

impl Panel {
    pub const ALL: [Panel; 3] = [Panel::Loss, Panel::Error, Panel::Timing];

    /// The `id` of the panel's group in the SVG (tests cut the timing panel by it).
    pub fn id(self) -> &'static str {
        match self {
            Panel::Loss => "panel-loss",
            Panel::Error => "panel-error",
            Panel::Timing => "panel-timing",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Panel::Loss => "loss (log scale)",
            Panel::Error => "error",
            Panel::Timing => "training speed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_unknown_ones_list_the_known() {
        for metric in Metric::ALL {
            assert_eq!(metric.name().parse::<Metric>(), Ok(metric));
        }
        let err = "val_acc".parse::<Metric>().unwrap_err();
        assert!(
            err.contains("'val_acc'") && err.contains("val_top1_err, val_top5_err, images_per_s"),
            "{err}"
        );
    }
}
