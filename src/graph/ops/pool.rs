//! A 2×2 stride-2 max-pool: VGG's pools.

use super::{at_size, BackwardPass, ForwardPass, Op, Operation, ReferenceGradients, ReferencePass};
use crate::error::Result;
use crate::kernels::pool::{maxpool2d_backward, maxpool2d_forward};
use crate::kernels::GpuContext;
use crate::kernels::Launch;
use crate::oracle::{kink, pool};
use crate::shape::PoolShape;

/// Input (channels, height, width).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxPool2d {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl MaxPool2d {
    pub fn shape(&self, batch: usize) -> PoolShape {
        PoolShape {
            batch,
            channels: self.channels,
            in_h: self.height,
            in_w: self.width,
        }
    }
}

impl Operation for MaxPool2d {
    fn name(&self) -> String {
        format!(
            "maxpool {} {}",
            self.channels,
            at_size(self.height, self.width)
        )
    }

    fn output(&self, batch: usize) -> Vec<usize> {
        self.shape(batch).output().to_vec()
    }

    /// Its backward pass routes each window's gradient to the maximum: where that is
    /// zero, a ReLU before it zeroed the gradient anyway.
    fn passes_back_input_relu(&self) -> bool {
        true
    }

    fn forward(&self, ctx: &GpuContext, pass: &ForwardPass) -> Result<Vec<Launch>> {
        maxpool2d_forward(ctx, &self.shape(pass.batch), pass.x, pass.y)
    }

    fn backward(&self, ctx: &GpuContext, pass: &BackwardPass) -> Result<Vec<Launch>> {
        let Some(dx) = pass.dx else {
            return Ok(Vec::new());
        };
        let s = self.shape(pass.batch);
        maxpool2d_backward(ctx, &s, pass.x, pass.dy, dx, pass.input_relu)
    }

    fn dense(&self, _plain_input: &[usize], input: &[usize]) -> Option<Op> {
        Some(Op::from(MaxPool2d {
            channels: input[0],
            height: input[1],
            width: input[2],
        }))
    }

    fn reference_forward(&self, pass: &ReferencePass, x: &[f32]) -> Vec<f32> {
        pool::maxpool2d_forward(&self.shape(pass.batch), x)
    }

    fn reference_backward(
        &self,
        pass: &ReferencePass,
        x: &[f32],
        _y: &[f32],
        dy: &[f32],
    ) -> ReferenceGradients {
        ReferenceGradients {
            dx: pool::maxpool2d_backward(&self.shape(pass.batch), x, dy),
            params: None,
        }
    }

    fn reference_kink_margin(&self, pass: &ReferencePass, x: &[f32]) -> f64 {
        kink::maxpool_margin(&self.shape(pass.batch), x)
    }
}
