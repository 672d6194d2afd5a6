//! Softmax cross-entropy geometry: logits (N, classes), labels (N), per-sample stats
//! (N, STATS).

use crate::error::{Error, Result};

/// Columns of the per-sample stats and of the totals: loss, top-1 hit, top-5 hit.
pub const STATS: usize = 3;

/// Geometry of one loss evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossShape {
    pub batch: usize,
    pub classes: usize,
}

impl LossShape {
    /// logits and dlogits: (N, classes)
    pub fn logits(&self) -> [usize; 2] {
        [self.batch, self.classes]
    }
    /// labels: (N)
    pub fn labels(&self) -> [usize; 1] {
        [self.batch]
    }
    /// per-sample stats: (N, 3)
    pub fn stats(&self) -> [usize; 2] {
        [self.batch, STATS]
    }
    pub fn validate(&self, op: &'static str) -> Result<()> {
        if self.batch == 0 || self.classes == 0 {
            return Err(Error::Shape {
                op,
                message: format!(
                    "needs at least one sample and one class, got batch {} and {} classes",
                    self.batch, self.classes
                ),
            });
        }
        Ok(())
    }
}
