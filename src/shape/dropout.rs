//! Inverted dropout's static part: its drop probability.

use crate::error::{Error, Result};

/// The static part of a dropout layer: its drop probability `p`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    /// Probability of dropping an element, in [0, 1).
    pub p: f32,
}

impl Dropout {
    /// 1 / (1 − p), the factor applied to kept elements.
    pub fn scale(&self) -> f32 {
        1.0 / (1.0 - self.p)
    }

    pub fn validate(&self, op: &'static str) -> Result<()> {
        if !(0.0..1.0).contains(&self.p) {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "drop probability {} must lie in [0, 1) (1 would drop everything)",
                    self.p
                ),
            });
        }
        Ok(())
    }
}
