//! Inverted dropout: VGG's FC1 and FC2 outputs while training; the identity otherwise.

use super::{BackwardPass, ForwardPass, Op, Operation, ReferenceGradients, ReferencePass};
use crate::error::Result;
use crate::kernels::dropout::{dropout_backward, dropout_forward};
use crate::kernels::GpuContext;
use crate::kernels::Launch;
use crate::oracle::dropout;
use crate::shape::Dropout;

/// Input and output (features).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutOp {
    pub dropout: Dropout,
    pub features: usize,
}

impl Operation for DropoutOp {
    fn name(&self) -> String {
        format!("dropout {}", self.features)
    }

    fn output(&self, batch: usize) -> Vec<usize> {
        vec![batch, self.features]
    }

    fn inference_identity(&self) -> bool {
        true
    }

    fn forward(&self, ctx: &GpuContext, pass: &ForwardPass) -> Result<Vec<Launch>> {
        match pass.dropout {
            Some(rng) => dropout_forward(ctx, &self.dropout, rng, pass.x, pass.y),
            None => Ok(Vec::new()),
        }
    }

    fn backward(&self, ctx: &GpuContext, pass: &BackwardPass) -> Result<Vec<Launch>> {
        match pass.dx {
            Some(dx) => dropout_backward(ctx, &self.dropout, pass.dropout, pass.dy, dx),
            None => Ok(Vec::new()),
        }
    }

    fn dense(&self, _plain_input: &[usize], _input: &[usize]) -> Option<Op> {
        None
    }

    fn reference_forward(&self, pass: &ReferencePass, x: &[f32]) -> Vec<f32> {
        match pass.dropout {
            Some((seed, step)) => {
                dropout::dropout_forward(&self.dropout, seed, step, 0, self.features, x)
            }
            None => x.to_vec(),
        }
    }

    fn reference_backward(
        &self,
        pass: &ReferencePass,
        _x: &[f32],
        _y: &[f32],
        dy: &[f32],
    ) -> ReferenceGradients {
        let dx = match pass.dropout {
            Some((seed, step)) => {
                dropout::dropout_backward(&self.dropout, seed, step, 0, self.features, dy)
            }
            None => dy.to_vec(),
        };
        ReferenceGradients { dx, params: None }
    }
}
