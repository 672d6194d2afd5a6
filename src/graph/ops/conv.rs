//! A stride-1 convolution, ReLU fused when `relu`: VGG's conv layers, and in the fully
//! convolutional network of dense evaluation its FC layers too.

use super::{at_size, BackwardPass, ForwardPass, Op, Operation, ReferenceGradients, ReferencePass};
use crate::error::Result;
use crate::gpu::tensor::chunk_layout;
use crate::gpu::Tensor;
use crate::kernels::conv::windows::{fold_positions, unfold_windows, window_rows};
use crate::kernels::conv::{
    conv2d_backward_data, conv2d_backward_weight, conv2d_backward_weight_accumulate,
    conv2d_forward, ConvUse,
};
use crate::kernels::linear::linear_forward;
use crate::kernels::GpuContext;
use crate::kernels::Launch;
use crate::oracle::{conv, kink, relu};
use crate::shape::{ConvShape, LinearShape};

/// Most output positions for which an unpadded convolution runs as a fully connected
/// layer on its windows' rows (see `Conv2d::forward_as_linear`): dense evaluation's FC
/// layers up to 4×4 maps; measured at 1×1 (Q = 224), 2×2 and 3×3 (256, 288).
const MAX_WINDOW_POSITIONS: usize = 16;

/// Input (in_channels, height, width), weight (out_channels, in_channels, kernel,
/// kernel) at parameter `param`, its bias at `param + 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub pad: usize,
    pub height: usize,
    pub width: usize,
    pub relu: bool,
    pub param: usize,
}

impl Conv2d {
    /// VGG's conv layer: a `kernel`×`kernel` filter padded to keep the (size, size)
    /// input's size, ReLU fused.
    pub fn same(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        size: usize,
        param: usize,
    ) -> Conv2d {
        Conv2d {
            in_channels,
            out_channels,
            kernel,
            pad: kernel / 2,
            height: size,
            width: size,
            relu: true,
            param,
        }
    }

    /// This convolution as a fully connected layer on its windows' rows, where it is
    /// unpadded and its output map has at most [`MAX_WINDOW_POSITIONS`] positions:
    /// dense evaluation's FC layers (FC1 an s×s convolution over the last feature map,
    /// FC2 and FC3 1×1 convolutions). The conv kernels compute tiles 8 columns wide with
    /// one to three useful, the linear kernels a row per position: VGG-16's three took
    /// 2.0 s of a 224 pass on SwiftShader as convolutions and 0.46 s this way. Where the
    /// filter covers the whole input (one position: every FC layer at the training size)
    /// the input and output already are the rows (NCHW flattens as OIHW); elsewhere
    /// `unfold_windows` and `fold_positions` copy them, which needs every tensor in one
    /// storage binding (`None` otherwise: the conv kernels run).
    fn forward_as_linear(
        &self,
        ctx: &GpuContext,
        s: &ConvShape,
        pass: &ForwardPass,
    ) -> Result<Option<Vec<Launch>>> {
        let positions = s.out_h() * s.out_w();
        if self.pad != 0 || positions > MAX_WINDOW_POSITIONS {
            return Ok(None);
        }
        let [rows, in_features] = window_rows(s);
        let l = LinearShape {
            batch: rows,
            in_features,
            out_features: self.out_channels,
        };
        let (w, b) = pass.params.pair(self.param);
        let w = w.reshaped(&l.weight())?;
        if positions == 1 {
            let (x, y) = (pass.x.reshaped(&l.input())?, pass.y.reshaped(&l.output())?);
            return Ok(Some(linear_forward(ctx, &l, self.relu, &x, &w, b, &y)?));
        }
        let single = |t: &Tensor| t.chunks.len() == 1;
        let fits_one = |shape: &[usize]| {
            chunk_layout(ctx, "window rows", shape).is_ok_and(|chunks| chunks.len() == 1)
        };
        if !(single(pass.x) && single(pass.y) && fits_one(&l.input()) && fits_one(&l.output())) {
            return Ok(None);
        }
        let windows = Tensor::zeros(ctx, "window rows", &l.input())?;
        let outputs = Tensor::zeros(ctx, "output rows", &l.output())?;
        let mut launches = unfold_windows(ctx, s, pass.x, &windows)?;
        launches.extend(linear_forward(
            ctx, &l, self.relu, &windows, &w, b, &outputs,
        )?);
        launches.extend(fold_positions(ctx, s, &outputs, pass.y)?);
        Ok(Some(launches))
    }

    pub fn shape(&self, batch: usize) -> ConvShape {
        ConvShape {
            batch,
            in_channels: self.in_channels,
            in_h: self.height,
            in_w: self.width,
            out_channels: self.out_channels,
            kernel: self.kernel,
            pad: self.pad,
        }
    }
}

impl Operation for Conv2d {
    fn name(&self) -> String {
        format!(
            "conv{} {}→{} {}",
            self.kernel,
            self.in_channels,
            self.out_channels,
            at_size(self.height, self.width)
        )
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
        if let Some(launches) = self.forward_as_linear(ctx, &s, pass)? {
            return Ok(launches);
        }
        let (w, b) = pass.params.pair(self.param);
        // An FC layer's weight (O, K) seen as (O, C, k, k): the same memory.
        let w = w.reshaped(&s.weight())?;
        let use_ = match pass.dropout {
            Some(_) => ConvUse::Training,
            None => ConvUse::Inference,
        };
        conv2d_forward(ctx, &s, use_, self.relu, pass.x, &w, b, pass.y)
    }

    fn backward(&self, ctx: &GpuContext, pass: &BackwardPass) -> Result<Vec<Launch>> {
        let s = self.shape(pass.batch);
        let (dw, db) = pass.gradients.pair(self.param);
        let mut launches = match pass.accumulate {
            false => conv2d_backward_weight(ctx, &s, pass.x, pass.dy, dw, db)?,
            true => conv2d_backward_weight_accumulate(ctx, &s, pass.x, pass.dy, dw, db)?,
        };
        if let Some(dx) = pass.dx {
            let w = pass.params.pair(self.param).0;
            launches.extend(conv2d_backward_data(ctx, &s, pass.dy, w, dx)?);
        }
        Ok(launches)
    }

    fn dense(&self, _plain_input: &[usize], input: &[usize]) -> Option<Op> {
        Some(Op::from(Conv2d {
            in_channels: input[0],
            height: input[1],
            width: input[2],
            ..*self
        }))
    }

    fn reference_forward(&self, pass: &ReferencePass, x: &[f32]) -> Vec<f32> {
        let (w, b) = (&pass.params[self.param], &pass.params[self.param + 1]);
        conv::conv2d_forward(&self.shape(pass.batch), self.relu, x, w, b)
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
        let g = conv::conv2d_backward(&self.shape(pass.batch), x, &pass.params[self.param], &dz);
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
        let z = conv::conv2d_forward(&self.shape(pass.batch), false, x, w, b);
        kink::relu_margin(&z)
    }
}
