//! 2×2 stride-2 max-pool geometry: x (N, C, H, W) → y (N, C, H/2, W/2) (odd sizes
//! floor, as in PyTorch).

use crate::error::{Error, Result};

/// Geometry of one 2×2 stride-2 max-pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
}

impl PoolShape {
    pub fn out_h(&self) -> usize {
        self.in_h / 2
    }
    pub fn out_w(&self) -> usize {
        self.in_w / 2
    }
    pub fn input(&self) -> [usize; 4] {
        [self.batch, self.channels, self.in_h, self.in_w]
    }
    pub fn output(&self) -> [usize; 4] {
        [self.batch, self.channels, self.out_h(), self.out_w()]
    }
    /// Inputs smaller than the window would give an empty output.
    pub fn validate(&self, op: &'static str) -> Result<()> {
        if self.in_h < 2 || self.in_w < 2 {
            return Err(Error::Shape {
                op,
                message: format!(
                    "a {}×{} input is smaller than the 2×2 pooling window: the output would be empty",
                    self.in_h, self.in_w
                ),
            });
        }
        Ok(())
    }
}
