//! Inference, compiled once for one batch size: the forward pass without dropout, then
//! either the loss kernel's hit counts (validation) or softmax probabilities.
//! Activations share two arena slots, since each is dead once the next op has run.

use super::forward::forward_launches;
use super::network::Network;
use super::param_set::ParamSet;
use super::step_stats::StepStats;
use crate::error::{Error, Result};
use crate::gpu::arena::Arena;
use crate::gpu::error_scope::{build_in_error_scopes, BuildNames};
use crate::gpu::Tensor;
use crate::kernels::loss::{softmax_cross_entropy, LossOutputs};
use crate::kernels::score_map::softmax;
use crate::kernels::GpuContext;
use crate::kernels::{record, Launch};
use crate::shape::{LossShape, STATS};

pub struct EvalPlan {
    pub batch: usize,
    input: Tensor,
    labels: Tensor,
    forward: Vec<Launch>,
    loss: Vec<Launch>,
    softmax: Vec<Launch>,
    totals: Tensor,
    probabilities: Tensor,
}

impl EvalPlan {
    /// `params` is shared with whoever else holds it (a training plan, say).
    pub async fn new(
        ctx: &GpuContext,
        net: &Network,
        params: &ParamSet,
        batch: usize,
    ) -> Result<EvalPlan> {
        if batch == 0 {
            return Err(Error::InvalidArgument {
                op: "evaluation plan",
                message: "batch must be at least 1".into(),
            });
        }
        let names = BuildNames {
            op: "evaluation plan",
            size: format!("a batch of {batch} images"),
            fix: "evaluate fewer images at once: a smaller --batch (train, bench), or dense evaluation instead of --multi-crop (eval)",
        };
        build_in_error_scopes(&ctx.device, names, || Self::build(ctx, net, params, batch)).await
    }

    /// The plan's buffers and launches; `new` has checked the batch.
    fn build(ctx: &GpuContext, net: &Network, params: &ParamSet, batch: usize) -> Result<EvalPlan> {
        let ops = &net.ops;
        let acts = inference_activations(ctx, net, batch)?;
        let logits = &acts[ops.len()];
        let classes = net.spec.classes;

        let (forward, _) = forward_launches(ctx, ops, params, &acts, batch, None)?;
        let labels = Tensor::zeros(ctx, "labels", &[batch])?;
        let dlogits = Tensor::zeros(ctx, "unused dlogits", &[batch, classes])?;
        let stats = Tensor::zeros(ctx, "loss stats", &[batch, STATS])?;
        let totals = Tensor::zeros(ctx, "loss totals", &[STATS])?;
        let outputs = LossOutputs {
            dlogits: &dlogits,
            stats: &stats,
            totals: &totals,
        };
        let loss = softmax_cross_entropy(
            ctx,
            &LossShape { batch, classes },
            1.0,
            logits,
            &labels,
            &outputs,
        )?;
        let probabilities = Tensor::zeros(ctx, "probabilities", &[batch, classes])?;
        let softmax = softmax(ctx, batch, classes, logits, &probabilities)?;
        Ok(EvalPlan {
            batch,
            input: acts[0].clone(),
            labels,
            forward,
            loss,
            softmax,
            totals,
            probabilities,
        })
    }

    /// Loss and top-1/top-5 hits of `images` (batch, 3, S, S) against `labels`.
    pub async fn evaluate(
        &self,
        ctx: &GpuContext,
        images: &[f32],
        labels: &[u32],
    ) -> Result<StepStats> {
        self.input.write_f32(ctx, images)?;
        self.labels.write_u32(ctx, labels)?;
        self.run(ctx, &self.loss);
        let t = self.totals.read_f32(ctx).await?;
        Ok(StepStats {
            samples: self.batch,
            loss_sum: t[0] as f64,
            top1_hits: t[1] as f64,
            top5_hits: t[2] as f64,
        })
    }

    /// Softmax probabilities (batch, classes) of `images`.
    pub async fn probabilities(&self, ctx: &GpuContext, images: &[f32]) -> Result<Vec<f32>> {
        self.input.write_f32(ctx, images)?;
        self.run(ctx, &self.softmax);
        self.probabilities.read_f32(ctx).await
    }

    /// The forward pass then `head`, in one submission.
    fn run(&self, ctx: &GpuContext, head: &[Launch]) {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        record(&self.forward, &mut encoder);
        record(head, &mut encoder);
        ctx.queue.submit([encoder.finish()]);
    }
}

/// The activations of an inference pass of `net` over `batch` samples, input first and
/// output last, in two arena slots: each is dead once the next op has run. An op that
/// is the identity at inference (dropout) has its input as its output.
pub(crate) fn inference_activations(
    ctx: &GpuContext,
    net: &Network,
    batch: usize,
) -> Result<Vec<Tensor>> {
    let ops = &net.ops;
    let mut arena = Arena::new(2);
    let mut reservations = Vec::new();
    let mut slot = 0;
    for i in 0..=ops.len() {
        if i > 0 && ops[i - 1].inference_identity() {
            reservations.push(reservations[i - 1]);
            continue;
        }
        reservations.push(arena.reserve(
            ctx,
            slot,
            &format!("activation {i}"),
            &net.activation_shape(i, batch),
        )?);
        slot = 1 - slot;
    }
    let tensors = arena.allocate(ctx);
    Ok(reservations
        .iter()
        .map(|&r| tensors.get(r).clone())
        .collect())
}
