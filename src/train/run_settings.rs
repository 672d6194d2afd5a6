//! The options that define what a run computes, as the command line spells them, kept
//! in its checkpoints so that `--resume` can refuse to continue it with others (which
//! would silently mix two runs, or be ignored in part: the schedule comes from the
//! checkpoint).
//!
//! Left out by design, free to change on resume: where and how often it writes
//! (`--out`, `--checkpoint-every`, `--log-every`), how it computes the same numbers
//! (`--workers`, `--devices`, the number of processes, `--exchange-timeout`), how long it
//! runs (`--epochs`) and whether a bad image fails it (`--strict`).

use serde::{Deserialize, Serialize};

use super::data_source::DataSource;
use super::options::{Freeze, Normalize, TrainOptions};
use crate::error::{Error, Result};

/// `(option, value)` pairs in the command line's order, e.g. `("--seed", "1")`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings(pub Vec<(String, String)>);

impl RunSettings {
    pub fn of(opts: &TrainOptions) -> RunSettings {
        let (s_min, s_max) = opts.scale;
        let scale = match s_min == s_max {
            true => s_min.to_string(),
            false => format!("{s_min}:{s_max}"),
        };
        let mut settings = vec![
            ("--config", opts.config.to_string()),
            ("--crop", opts.crop.to_string()),
            ("--width-divisor", opts.width_divisor.to_string()),
        ];
        match &opts.data {
            DataSource::Builtin { train, val, .. } => settings.extend([
                ("--data", "builtin".to_string()),
                ("--train-images", train.to_string()),
                ("--val-images", val.to_string()),
            ]),
            DataSource::Path(path) => settings.push(("--data", path.display().to_string())),
            DataSource::Split { path, val_split } => settings.extend([
                ("--data", path.display().to_string()),
                ("--val-split", val_split.to_string()),
            ]),
        }
        settings.extend([
            ("--scale", scale),
            ("--batch", opts.batch.to_string()),
            ("--accumulate", opts.accumulate.to_string()),
            ("--lr", opts.learning_rate().to_string()),
            ("--momentum", opts.momentum.to_string()),
            ("--weight-decay", opts.weight_decay.to_string()),
            ("--dropout", opts.dropout.to_string()),
            ("--patience", opts.patience.to_string()),
            ("--max-reductions", opts.max_reductions.to_string()),
            ("--init", opts.init.to_string()),
            ("--seed", opts.seed.to_string()),
            ("--normalize", normalize_text(&opts.normalize)),
        ]);
        // Fine-tuning's options only when used, so that older checkpoints, which do not
        // record them, resume as before.
        if opts.freeze != Freeze::Nothing {
            settings.push(("--freeze", opts.freeze.to_string()));
        }
        if opts.lr_features != 1.0 {
            settings.push(("--lr-features", opts.lr_features.to_string()));
        }
        // A flag: recorded by name alone.
        if opts.cache_features {
            settings.push(("--cache-features", String::new()));
        }
        RunSettings(
            settings
                .into_iter()
                .map(|(option, value)| (option.to_string(), value))
                .collect(),
        )
    }

    /// The settings of `opts` resuming a run that recorded `then`: a learning rate left
    /// to its default is the one the run started with, which an older default may
    /// have set (fine-tuning started at the paper's 0.01 before it had its own).
    pub fn resuming(opts: &TrainOptions, then: Option<&RunSettings>) -> RunSettings {
        let mut now = RunSettings::of(opts);
        let recorded = then.and_then(|t| t.0.iter().find(|(option, _)| option == "--lr"));
        if let (None, Some((_, lr))) = (opts.lr, recorded) {
            for (option, value) in &mut now.0 {
                if option == "--lr" {
                    value.clone_from(lr);
                }
            }
        }
        now
    }

    /// Refuses to resume a run started with `self` under the settings `now`, naming
    /// the first option that differs.
    pub fn check_resume(&self, now: &RunSettings) -> Result<()> {
        let value = |settings: &RunSettings, option: &str| {
            settings
                .0
                .iter()
                .find(|(o, _)| o == option)
                .map(|(_, v)| format!("{option} {v}").trim_end().to_string())
                .unwrap_or_else(|| format!("no {option}"))
        };
        let options = self.0.iter().chain(&now.0).map(|(option, _)| option);
        for option in options {
            let (then, current) = (value(self, option), value(now, option));
            if then != current {
                return Err(Error::InvalidArgument {
                    op: "--resume",
                    message: format!(
                        "this run was started with {then}, now {current}; resume with the same \
                         options or start a new run (--overwrite or another --out)"
                    ),
                });
            }
        }
        Ok(())
    }
}

fn normalize_text(normalize: &Normalize) -> String {
    match normalize {
        Normalize::DataMean => "mean".into(),
        Normalize::DataMeanStd => "mean-std".into(),
        Normalize::Fixed(p) => format!("mean {:?} std {:?} scale {}", p.mean, p.std, p.scale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> RunSettings {
        RunSettings(
            pairs
                .iter()
                .map(|&(o, v)| (o.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn the_first_difference_is_named() {
        let then = settings(&[("--batch", "8"), ("--seed", "1"), ("--lr", "0.01")]);
        assert!(then.check_resume(&then).is_ok());
        let now = settings(&[("--batch", "8"), ("--seed", "2"), ("--lr", "0.02")]);
        let err = then.check_resume(&now).unwrap_err().to_string();
        assert!(
            err.contains("started with --seed 1, now --seed 2") && err.contains("--overwrite"),
            "{err}"
        );
        let builtin = settings(&[("--data", "builtin"), ("--train-images", "64")]);
        let folder = settings(&[("--data", "imagenet")]);
        let err = builtin.check_resume(&folder).unwrap_err().to_string();
        assert!(err.contains("--data builtin, now --data imagenet"), "{err}");
        let cached = settings(&[("--freeze", "features"), ("--cache-features", "")]);
        let uncached = settings(&[("--freeze", "features")]);
        let err = cached.check_resume(&uncached).unwrap_err().to_string();
        assert!(
            err.contains("started with --cache-features, now no --cache-features;"),
            "{err}"
        );
    }
}
