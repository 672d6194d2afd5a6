//! A fully connected layer, ReLU fused when `relu`: VGG's FC layers.

use super::{BackwardPass, Conv2d, ForwardPass, Op, Operation, ReferenceGradients, ReferencePass};
use crate::error::Result;
use crate::kernels::linear::{
    linear_backward_data, linear_backward_weight, linear_backward_weight_accumulate, linear_forward,
};
use crate::kernels::GpuContext;
use crate::kernels::Launch;
use crate::oracle::{kink, linear, relu};
use crate::shape::LinearShape;

/// Input (in_features), weight (out_features, in_features) at parameter `param`, its
/// bias at `param + 1`. Reads its input flattened (C·H·W), which in NCHW is the same
/// memory, in the same order as torchvision's `flatten`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub relu: bool,
    pub param: usize,
}

impl Linear {
    pub fn shape(&self, batch: usize) -> LinearShape {
        LinearShape {
            batch,
            in_features: self.in_features,
            out_features: self.out_features,
        }
    }
}

impl Operation for Linear {
    fn name(&self) -> String {
        format!("fc {}→{}", self.in_features, self.out_features)
    }

    fn output(&self, batch: usize) -> Vec<usize> {
        self.shape(batch).output().to_vec()
    }

    fn param(&self) -> Option<usize> {
        Some(self.param)
    }

    fn flops_per_image(&self) -> f64 {
        self.shape(1).flops()
    }

    fn fused_relu(&self) -> bool {
        self.relu
    }

    fn forward(&self, ctx: &GpuContext, pass: &ForwardPass) -> Result<Vec<Launch>> {
        let s = self.shape(pass.batch);
        let (w, b) = pass.params.pair(self.param);
        let x = pass.x.reshaped(&s.input())?;
        linear_forward(ctx, &s, self.relu, &x, w, b, pass.y)
    }

    fn backward(&self, ctx: &GpuContext, pass: &BackwardPass) -> Result<Vec<Launch>> {
        let s = self.shape(pass.batch);
        let (dw, db) = pass.gradients.pair(self.param);
        let x = pass.x.reshaped(&s.input())?;
        let mut launches = match pass.accumulate {
            false => linear_backward_weight(ctx, &s, &x, pass.dy, dw, db)?,
            true => linear_backward_weight_accumulate(ctx, &s, &x, pass.dy, dw, db)?,
        };
        if let Some(dx) = pass.dx {
            let w = pass.params.pair(self.param).0;
            let dx = dx.reshaped(&s.input())?;
            launches.extend(linear_backward_data(ctx, &s, pass.dy, w, &dx)?);
        }
        Ok(launches)
    }

    /// A convolution without padding whose filter covers the plain network's whole
    /// input: s×s over a (C, s, s) feature map (the weight (O, C·s·s) seen as
    /// (O, C, s, s): NCHW's flatten order is OIHW's), 1×1 over features.
    fn dense(&self, plain_input: &[usize], input: &[usize]) -> Option<Op> {
        let kernel = match plain_input {
            [_, side, _] => *side,
            _ => 1,
        };
        Some(Op::from(Conv2d {
            in_channels: input[0],
            out_channels: self.out_features,
            kernel,
            pad: 0,
            height: input[1],
            width: input[2],
            relu: self.relu,
            param: self.param,
        }))
    }

    fn reference_forward(&self, pass: &ReferencePass, x: &[f32]) -> Vec<f32> {
        let (w, b) = (&pass.params[self.param], &pass.params[self.param + 1]);
        linear::linear_forward(&self.shape(pass.batch), self.relu, x, w, b)
    }

    fn reference_backward(
        &self,
        pass: &ReferencePass,
        x: &[f32],
        y: &[f32],
        dy: &[f32],
    ) -> ReferenceGradients {
        let dz = match self.relu {
            true => relu::relu_backward(y, dy),
            false => dy.to_vec(),
        };
        let s = self.shape(pass.batch);
        let g = linear::linear_backward(&s, x, &pass.params[self.param], &dz);
        ReferenceGradients {
            dx: g.dx,
            params: Some((g.dweight, g.dbias)),
        }
    }

    fn reference_kink_margin(&self, pass: &ReferencePass, x: &[f32]) -> f64 {
        if !self.relu {
            return f64::INFINITY;
        }
        let (w, b) = (&pass.params[self.param], &pass.params[self.param + 1]);
        let z = linear::linear_forward(&self.shape(pass.batch), false, x, w, b);
        kink::relu_margin(&z)
    }
}
