//! Local response normalisation (across channels): its constants.

use crate::error::{Error, Result};

/// b_c = a_c / (k + alpha · Σ_{c' = max(0, c − n/2)}^{min(C − 1, c + n/2)} a_{c'}²)^beta.
///
/// This is AlexNet's paper formula (Krizhevsky et al. 2012, §3.3): alpha multiplies the
/// sum as is, whereas PyTorch's `LocalResponseNorm` divides alpha by n.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrnParams {
    /// n, the number of channels summed over; odd, so that the window is centred.
    pub size: usize,
    pub alpha: f32,
    pub beta: f32,
    pub k: f32,
}

impl Default for LrnParams {
    /// AlexNet's (and VGG A-LRN's) values: n = 5, alpha = 1e-4, beta = 0.75, k = 2.
    fn default() -> Self {
        LrnParams {
            size: 5,
            alpha: 1e-4,
            beta: 0.75,
            k: 2.0,
        }
    }
}

impl LrnParams {
    /// Half the window: channels c − half ..= c + half are summed.
    pub fn half(&self) -> usize {
        self.size / 2
    }

    pub fn validate(&self, op: &'static str) -> Result<()> {
        if self.size.is_multiple_of(2) {
            return Err(Error::InvalidArgument {
                op,
                message: format!("LRN size n = {} must be odd (a centred window)", self.size),
            });
        }
        if !(self.k > 0.0 && self.alpha >= 0.0) {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "LRN needs k > 0 and alpha ≥ 0 (got k = {}, alpha = {}) so that the base stays positive",
                    self.k, self.alpha
                ),
            });
        }
        Ok(())
    }
}
