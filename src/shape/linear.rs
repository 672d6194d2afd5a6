//! Fully connected geometry: x (N, K), weight (O, K) (PyTorch's [out, in] layout),
//! bias (O), y (N, O).

use crate::error::{Error, Result};

/// Geometry of one fully connected layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    /// N
    pub batch: usize,
    /// K
    pub in_features: usize,
    /// O
    pub out_features: usize,
}

impl LinearShape {
    /// (N, K)
    pub fn input(&self) -> [usize; 2] {
        [self.batch, self.in_features]
    }
    /// (O, K)
    pub fn weight(&self) -> [usize; 2] {
        [self.out_features, self.in_features]
    }
    /// (N, O)
    pub fn output(&self) -> [usize; 2] {
        [self.batch, self.out_features]
    }
    /// Multiply-adds × 2 of the forward pass (each backward GEMM costs the same).
    pub fn flops(&self) -> f64 {
        2.0 * self.batch as f64 * self.in_features as f64 * self.out_features as f64
    }
    pub fn validate(&self, op: &'static str) -> Result<()> {
        if self.batch == 0 || self.in_features == 0 || self.out_features == 0 {
            return Err(Error::Shape {
                op,
                message: format!("every dimension must be at least 1, got {self:?}"),
            });
        }
        Ok(())
    }
}
