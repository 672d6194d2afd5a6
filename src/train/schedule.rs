//! The paper's learning-rate schedule: divide by 10 when validation accuracy stops
//! improving; stop after the rate has been divided three times (or after N epochs).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateauSchedule {
    pub lr: f32,
    /// Epochs without improvement before the rate is divided.
    pub patience: usize,
    /// Stop once the rate has been divided this many times (3 in the paper).
    pub max_reductions: usize,
    /// Best validation top-1 error so far (None before the first epoch).
    pub best_top1_err: Option<f64>,
    pub epochs_since_best: usize,
    pub reductions: usize,
}

/// What to do after an epoch.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Continue,
    /// The rate was divided by 10 (the new rate is given).
    Reduced(f32),
    /// The rate has been divided `max_reductions` times and stopped improving again.
    Stop,
}

impl PlateauSchedule {
    pub fn new(lr: f32, patience: usize, max_reductions: usize) -> PlateauSchedule {
        PlateauSchedule {
            lr,
            patience,
            max_reductions,
            best_top1_err: None,
            epochs_since_best: 0,
            reductions: 0,
        }
    }

    /// Records an epoch's validation top-1 error.
    pub fn observe(&mut self, val_top1_err: f64) -> Decision {
        if self.best_top1_err.is_none_or(|best| val_top1_err < best) {
            self.best_top1_err = Some(val_top1_err);
            self.epochs_since_best = 0;
            return Decision::Continue;
        }
        self.epochs_since_best += 1;
        if self.epochs_since_best < self.patience {
            return Decision::Continue;
        }
        self.epochs_since_best = 0;
        if self.reductions == self.max_reductions {
            return Decision::Stop;
        }
        self.reductions += 1;
        self.lr /= 10.0;
        Decision::Reduced(self.lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divides_after_patience_and_stops_after_three_divisions() {
        let mut s = PlateauSchedule::new(0.01, 2, 3);
        assert_eq!(s.observe(0.5), Decision::Continue);
        assert_eq!(s.observe(0.4), Decision::Continue);
        assert_eq!(s.observe(0.4), Decision::Continue); // 1 epoch without improvement
        let reduced_to = |d: Decision, expected: f32| match d {
            Decision::Reduced(lr) => {
                assert!((lr / expected - 1.0).abs() < 1e-5, "{lr} vs {expected}")
            }
            other => panic!("expected a reduction to {expected}, got {other:?}"),
        };
        reduced_to(s.observe(0.45), 1e-3);
        assert_eq!(s.observe(0.3), Decision::Continue);
        for expected in [1e-4f32, 1e-5] {
            assert_eq!(s.observe(0.3), Decision::Continue);
            reduced_to(s.observe(0.3), expected);
        }
        assert_eq!(s.observe(0.3), Decision::Continue);
        assert_eq!(s.observe(0.3), Decision::Stop);
    }
}
