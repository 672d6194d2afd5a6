//! Dense evaluation (the paper's Section 3.2), compiled once for one (batch, H, W):
//! the network made fully convolutional and run on whole images of any size at least
//! the training size.
//!
//! Each op gives its own fully convolutional form ([`Operation::dense`]): convs, LRN and
//! pools run as they are on the larger image; FC1 becomes an s×s convolution without
//! padding (s the side of the plain network's last feature map: 7 for 224) whose weight
//! is FC1's weight seen as (O, C, s, s), the same memory: NCHW's flatten order is OIHW's.
//! FC2 and FC3 become 1×1 convolutions over views (O, K, 1, 1) of their weights. ReLU
//! stays fused on the first two; dropout is gone. The output is a class score map
//! (N, classes, h', w') with h' = ⌊H/32⌋ − s + 1 for VGG's five pools, averaged over its
//! positions into class scores, then softmaxed. FC2's map averaged the same way gives
//! the penultimate features. Activations share two arena slots, as in the
//! [`EvalPlan`](super::EvalPlan).
//!
//! [`Operation::dense`]: super::ops::Operation::dense

use super::forward::{forward_launches, push_span, Span};
use super::network::Network;
use super::ops::Op;
use super::param_set::ParamSet;
#[cfg(not(target_arch = "wasm32"))]
use super::profile::PlanProfile;
use crate::error::Result;
use crate::gpu::arena::Arena;
use crate::gpu::error_scope::{build_in_error_scopes, BuildNames};
use crate::gpu::Tensor;
use crate::kernels::score_map::{softmax, spatial_mean};
use crate::kernels::GpuContext;
use crate::kernels::{record, Launch};
use crate::model::IMAGE_CHANNELS;
use crate::shape::ScoreMapShape;

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
    /// The fully convolutional chain that runs.
    ops: Vec<Op>,
    /// Each op's launches, then the class scores' (for profiles, not in the browser).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    spans: Vec<Span>,
}

impl DensePlan {
    /// A plan for images (batch, 3, height, width); both sides must be at least the
    /// network's input size, so that FC1's s×s window fits at least once.
    pub async fn new(
        ctx: &GpuContext,
        net: &Network,
        params: &ParamSet,
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<DensePlan> {
        net.check_dense_input("dense evaluation plan", batch, height, width)?;
        let names = BuildNames {
            op: "dense evaluation plan",
            size: format!("a batch of {batch} images of {height}×{width}"),
            fix: "give smaller --scales (eval, classify; eval without --flip runs half the batch), or a smaller --batch or --dense-size (bench)",
        };
        build_in_error_scopes(&ctx.device, names, || {
            Self::build(ctx, net, params, batch, height, width)
        })
        .await
    }

    /// The plan's buffers and launches; `new` has checked the sizes.
    fn build(
        ctx: &GpuContext,
        net: &Network,
        params: &ParamSet,
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<DensePlan> {
        let ops = net.dense_ops(height, width);
        let mut arena = Arena::new(2);
        let input_shape = [batch, IMAGE_CHANNELS, height, width];
        let mut reservations = vec![arena.reserve(ctx, 0, "dense input", &input_shape)?];
        for (i, op) in ops.iter().enumerate() {
            let label = format!("dense activation {}", i + 1);
            reservations.push(arena.reserve(ctx, (i + 1) % 2, &label, &op.output(batch))?);
        }
        let tensors = arena.allocate(ctx);
        let acts: Vec<Tensor> = reservations
            .iter()
            .map(|&r| tensors.get(r).clone())
            .collect();

        let (mut launches, mut spans) = forward_launches(ctx, &ops, params, &acts, batch, None)?;
        let heads = launches.len();

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
        push_span(&mut spans, "class scores".into(), heads, launches.len());
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
            ops,
            spans,
        })
    }

    /// Forward multiply-adds × 2 of one image: the convs on the whole image, then the
    /// classifier's convolutions at every position of the score map.
    pub fn flops_per_image(&self) -> f64 {
        self.ops.iter().map(|op| op.flops_per_image()).sum()
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

    /// Seconds of each op's launches in one pass (on whatever the input holds), summed
    /// per op and per kernel (entry point). Each launch runs in its own compute pass.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(&self, ctx: &GpuContext) -> Result<PlanProfile> {
        let all: Vec<&Launch> = self.launches.iter().collect();
        PlanProfile::measure(ctx, &all, &self.spans)
    }

    /// Launches in one pass.
    pub fn launch_count(&self) -> usize {
        self.launches.len()
    }

    /// The class score map (batch, classes, h', w') of the last run.
    pub async fn score_map(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        self.map.read_f32(ctx).await
    }
}
