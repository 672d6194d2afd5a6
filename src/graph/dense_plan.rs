//! Dense evaluation (the paper's Section 3.2), compiled once for one (batch, H, W):
//! the network made fully convolutional and run on whole images of any size at least
//! the training size.
//!
//! FC1 becomes an s×s convolution without padding (s = input_size / 32: 7 for 224) whose
//! weight is FC1's weight seen as (O, C, s, s), the same memory: NCHW's flatten order is
//! OIHW's. FC2 and FC3 become 1×1 convolutions over views (O, K, 1, 1) of their weights.
//! ReLU stays fused on the first two; dropout is gone. The output is a class score map
//! (N, classes, h', w') with h' = ⌊H/32⌋ − s + 1, averaged over its positions into class
//! scores, then softmaxed. FC2's map averaged the same way gives the penultimate
//! features. Activations share two arena slots, as in the [`EvalPlan`](super::EvalPlan).

use super::network::{Network, Op};
use super::param_set::ParamSet;
use crate::error::{Error, Result};
use crate::gpu::arena::Arena;
use crate::gpu::{GpuContext, Tensor};
use crate::kernels::conv::conv2d_forward;
use crate::kernels::lrn::lrn_forward;
use crate::kernels::pool::maxpool2d_forward;
use crate::kernels::score_map::{softmax, spatial_mean};
use crate::kernels::{record, Launch};
use crate::shape::{ConvShape, LrnParams, PoolShape, ScoreMapShape};

/// One op of the fully convolutional chain with its resolved geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DenseOp {
    Conv {
        shape: ConvShape,
        relu: bool,
        param: usize,
    },
    Lrn(LrnParams),
    MaxPool(PoolShape),
}

/// The fully convolutional chain for images (batch, 3, height, width).
fn dense_ops(net: &Network, batch: usize, height: usize, width: usize) -> Vec<DenseOp> {
    let (mut c, mut h, mut w) = (3, height, width);
    let mut ops = Vec::new();
    let mut fc = 0;
    for op in &net.ops {
        match *op {
            Op::Conv {
                out_channels,
                kernel,
                param,
                ..
            } => {
                let shape = ConvShape {
                    batch,
                    in_channels: c,
                    in_h: h,
                    in_w: w,
                    out_channels,
                    kernel,
                    pad: kernel / 2,
                };
                ops.push(DenseOp::Conv {
                    shape,
                    relu: true,
                    param,
                });
                c = out_channels;
            }
            Op::Lrn(l) => ops.push(DenseOp::Lrn(l)),
            Op::MaxPool { .. } => {
                let shape = PoolShape {
                    batch,
                    channels: c,
                    in_h: h,
                    in_w: w,
                };
                ops.push(DenseOp::MaxPool(shape));
                (h, w) = (shape.out_h(), shape.out_w());
            }
            Op::Linear {
                out_features,
                relu,
                param,
                ..
            } => {
                // FC1 covers the whole s×s feature map of a training-size input.
                let kernel = if fc == 0 { net.spec.input_size / 32 } else { 1 };
                let shape = ConvShape {
                    batch,
                    in_channels: c,
                    in_h: h,
                    in_w: w,
                    out_channels: out_features,
                    kernel,
                    pad: 0,
                };
                ops.push(DenseOp::Conv { shape, relu, param });
                (c, h, w) = (out_features, shape.out_h(), shape.out_w());
                fc += 1;
            }
            Op::Dropout { .. } => {}
        }
    }
    ops
}

impl DenseOp {
    /// The output shape, batch included.
    fn output(&self, input: &[usize]) -> Vec<usize> {
        match self {
            DenseOp::Conv { shape, .. } => shape.output().to_vec(),
            DenseOp::Lrn(_) => input.to_vec(),
            DenseOp::MaxPool(shape) => shape.output().to_vec(),
        }
    }
}

/// What one run gives, per image of the batch.
pub struct DenseOutput {
    /// Spatially averaged class scores (batch, classes): the logits of dense evaluation.
    pub scores: Vec<f32>,
    /// softmax(scores) (batch, classes).
    pub probabilities: Vec<f32>,
    /// FC2's output map (after ReLU) spatially averaged (batch, fc_width).
    pub features: Vec<f32>,
}

pub struct DensePlan {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    /// The class score map's geometry (batch, classes, h', w').
    pub map_shape: ScoreMapShape,
    input: Tensor,
    /// (batch, classes, h', w')
    map: Tensor,
    launches: Vec<Launch>,
    /// (batch, classes)
    scores: Tensor,
    /// (batch, classes)
    probabilities: Tensor,
    /// (batch, fc_width)
    features: Tensor,
}

impl DensePlan {
    /// A plan for images (batch, 3, height, width); both sides must be at least the
    /// network's input size, so that FC1's s×s window fits at least once.
    pub fn new(
        ctx: &GpuContext,
        net: &Network,
        params: &ParamSet,
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<DensePlan> {
        let size = net.spec.input_size;
        if batch == 0 || height < size || width < size {
            return Err(Error::InvalidArgument {
                op: "dense evaluation plan",
                message: format!(
                    "needs a batch of at least 1 and images at least {size}×{size} (the training size), got {batch} of {height}×{width}"
                ),
            });
        }
        let ops = dense_ops(net, batch, height, width);
        let mut arena = Arena::new(2);
        let mut shape = vec![batch, 3, height, width];
        let mut reservations = vec![arena.reserve(ctx, 0, "dense input", &shape)?];
        for (i, op) in ops.iter().enumerate() {
            shape = op.output(&shape);
            let label = format!("dense activation {}", i + 1);
            reservations.push(arena.reserve(ctx, (i + 1) % 2, &label, &shape)?);
        }
        let tensors = arena.allocate(ctx);
        let acts: Vec<Tensor> = reservations
            .iter()
            .map(|&r| tensors.get(r).clone())
            .collect();

        let mut launches = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let (x, y) = (&acts[i], &acts[i + 1]);
            match op {
                DenseOp::Conv { shape, relu, param } => {
                    let (w, b) = params.pair(*param);
                    let w = w.reshaped(&shape.weight())?;
                    launches.extend(conv2d_forward(ctx, shape, *relu, x, &w, b, y)?);
                }
                DenseOp::Lrn(l) => launches.extend(lrn_forward(ctx, l, x, y)?),
                DenseOp::MaxPool(s) => launches.extend(maxpool2d_forward(ctx, s, x, y)?),
            }
        }

        // The last op writes the score map; FC2's map is the one before it, in the
        // other slot, which nothing overwrites after FC3 has read it.
        let map = acts[ops.len()].clone();
        let fc2_map = &acts[ops.len() - 1];
        let map_shape = ScoreMapShape {
            batch,
            classes: map.shape[1],
            height: map.shape[2],
            width: map.shape[3],
        };
        let fc2_shape = ScoreMapShape {
            classes: fc2_map.shape[1],
            ..map_shape
        };
        let scores = Tensor::zeros(ctx, "dense class scores", &map_shape.scores())?;
        let probabilities = Tensor::zeros(ctx, "dense probabilities", &map_shape.scores())?;
        let features = Tensor::zeros(ctx, "dense features", &fc2_shape.scores())?;
        launches.extend(spatial_mean(ctx, &fc2_shape, fc2_map, &features)?);
        launches.extend(spatial_mean(ctx, &map_shape, &map, &scores)?);
        launches.extend(softmax(
            ctx,
            batch,
            map_shape.classes,
            &scores,
            &probabilities,
        )?);
        Ok(DensePlan {
            batch,
            height,
            width,
            map_shape,
            input: acts[0].clone(),
            map,
            launches,
            scores,
            probabilities,
            features,
        })
    }

    /// Runs the plan on `images` (batch, 3, height, width).
    pub async fn run(&self, ctx: &GpuContext, images: &[f32]) -> Result<DenseOutput> {
        self.input.write_f32(ctx, images)?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        record(&self.launches, &mut encoder);
        ctx.queue.submit([encoder.finish()]);
        Ok(DenseOutput {
            scores: self.scores.read_f32(ctx).await?,
            probabilities: self.probabilities.read_f32(ctx).await?,
            features: self.features.read_f32(ctx).await?,
        })
    }

    /// The class score map (batch, classes, h', w') of the last run.
    pub async fn score_map(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        self.map.read_f32(ctx).await
    }
}
