//! Local response normalisation across channels: VGG's configuration A-LRN.

use super::{BackwardPass, ForwardPass, Op, Operation, ReferenceGradients, ReferencePass};
use crate::error::Result;
use crate::kernels::lrn::{lrn_backward, lrn_forward};
use crate::kernels::GpuContext;
use crate::kernels::Launch;
use crate::oracle::lrn;
use crate::shape::LrnParams;

/// Input and output (channels, height, width).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lrn {
    pub params: LrnParams,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Lrn {
    /// (N, C, H, W)
    fn shape(&self, batch: usize) -> [usize; 4] {
        [batch, self.channels, self.height, self.width]
    }
}

impl Operation for Lrn {
    fn name(&self) -> String {
        "lrn".to_string()
    }

    fn output(&self, batch: usize) -> Vec<usize> {
        self.shape(batch).to_vec()
    }

    fn forward(&self, ctx: &GpuContext, pass: &ForwardPass) -> Result<Vec<Launch>> {
        lrn_forward(ctx, &self.params, pass.x, pass.y)
    }

    fn backward(&self, ctx: &GpuContext, pass: &BackwardPass) -> Result<Vec<Launch>> {
        match pass.dx {
            Some(dx) => lrn_backward(ctx, &self.params, pass.x, pass.dy, dx),
            None => Ok(Vec::new()),
        }
    }

    fn dense(&self, _plain_input: &[usize], input: &[usize]) -> Option<Op> {
        Some(Op::from(Lrn {
            channels: input[0],
            height: input[1],
            width: input[2],
            ..*self
        }))
    }

    fn reference_forward(&self, pass: &ReferencePass, x: &[f32]) -> Vec<f32> {
        lrn::lrn_forward(self.shape(pass.batch), &self.params, x)
    }

    fn reference_backward(
        &self,
        pass: &ReferencePass,
        x: &[f32],
        _y: &[f32],
        dy: &[f32],
    ) -> ReferenceGradients {
        ReferenceGradients {
            dx: lrn::lrn_backward(self.shape(pass.batch), &self.params, x, dy),
            params: None,
        }
    }
}
