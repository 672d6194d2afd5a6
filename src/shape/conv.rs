//! Convolution geometry: x (N, C, H, W), weight (O, C, K, K), bias (O),
//! y (N, O, OH, OW), stride 1, OH = H + 2·pad − K + 1.

use crate::error::{Error, Result};

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub in_channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub pad: usize,
}

impl ConvShape {
    pub fn out_h(&self) -> usize {
        conv_out_size(self.in_h, self.kernel, self.pad)
    }
    pub fn out_w(&self) -> usize {
        conv_out_size(self.in_w, self.kernel, self.pad)
    }
    pub fn input(&self) -> [usize; 4] {
        [self.batch, self.in_channels, self.in_h, self.in_w]
    }
    pub fn weight(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.in_channels,
            self.kernel,
            self.kernel,
        ]
    }
    pub fn output(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.out_h(), self.out_w()]
    }
    /// Multiply-adds × 2 of the forward pass (each backward pass costs the same).
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.out_channels * self.out_h() * self.out_w()) as f64
            * (self.in_channels * self.kernel * self.kernel) as f64
    }
    pub fn validate(&self, op: &'static str) -> Result<()> {
        if self.kernel == 0
            || self.in_h + 2 * self.pad < self.kernel
            || self.in_w + 2 * self.pad < self.kernel
        {
            return Err(Error::Shape {
                op,
                message: format!(
                    "a {k}×{k} kernel with padding {p} does not fit a {h}×{w} input",
                    k = self.kernel,
                    p = self.pad,
                    h = self.in_h,
                    w = self.in_w
                ),
            });
        }
        Ok(())
    }
}

/// Output size of a stride-1 convolution: `size + 2·pad − kernel + 1`.
fn conv_out_size(size: usize, kernel: usize, pad: usize) -> usize {
    (size + 2 * pad + 1).saturating_sub(kernel)
}
