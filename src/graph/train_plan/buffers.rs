//! The tensors a training plan owns besides the arena's activation gradients, and the
//! launches that touch only them: the loss and the SGD update.

use super::super::network::Network;
use super::super::param_set::ParamSet;
use crate::error::Result;
use crate::gpu::Tensor;
use crate::kernels::dropout::DropoutRng;
use crate::kernels::loss::{softmax_cross_entropy, LossOutputs};
use crate::kernels::sgd::SgdStep;
use crate::kernels::GpuContext;
use crate::kernels::Launch;
use crate::shape::{LossShape, SgdHyper, STATS};

pub(super) struct StepBuffers {
    /// Images per micro-batch.
    pub batch: usize,
    /// Every activation, the images first and the logits last; op `i` reads `acts[i]`.
    pub acts: Vec<Tensor>,
    /// (N) u32
    pub labels: Tensor,
    /// (N, STATS): each sample's loss and hits.
    pub stats: Tensor,
    /// (STATS): the micro-batch's sums.
    pub totals: Tensor,
    /// (accumulation, STATS): each micro-batch's totals, read once per step.
    pub step_totals: Tensor,
    pub gradients: ParamSet,
    pub momenta: ParamSet,
    pub rng: DropoutRng,
}

impl StepBuffers {
    /// The buffers of micro-batches of `n` images, `accumulation` per step.
    pub fn allocate(
        ctx: &GpuContext,
        net: &Network,
        n: usize,
        accumulation: usize,
    ) -> Result<StepBuffers> {
        let acts = (0..=net.ops.len())
            .map(|i| Tensor::zeros(ctx, &format!("activation {i}"), &net.activation_shape(i, n)))
            .collect::<Result<_>>()?;
        Ok(StepBuffers {
            batch: n,
            acts,
            labels: Tensor::zeros(ctx, "labels", &[n])?,
            stats: Tensor::zeros(ctx, "loss stats", &[n, STATS])?,
            totals: Tensor::zeros(ctx, "loss totals", &[STATS])?,
            step_totals: Tensor::zeros(ctx, "step totals", &[accumulation, STATS])?,
            gradients: ParamSet::zeros(ctx, &net.spec, "gradient")?,
            momenta: ParamSet::zeros(ctx, &net.spec, "momentum")?,
            rng: DropoutRng::new(ctx),
        })
    }

    /// Softmax cross-entropy of the logits: `dlogits` (N, classes) gets the loss
    /// gradient times `grad_scale`, the totals the micro-batch's loss and hits.
    pub fn loss_launches(
        &self,
        ctx: &GpuContext,
        net: &Network,
        dlogits: &Tensor,
        grad_scale: f32,
    ) -> Result<Vec<Launch>> {
        let shape = LossShape {
            batch: self.batch,
            classes: net.spec.classes,
        };
        let outputs = LossOutputs {
            dlogits,
            stats: &self.stats,
            totals: &self.totals,
        };
        let logits = &self.acts[net.ops.len()];
        softmax_cross_entropy(ctx, &shape, grad_scale, logits, &self.labels, &outputs)
    }
}

/// The SGD update of every parameter with its gradient and momentum; its
/// hyper-parameters are written before each step.
pub(super) fn sgd_update(
    ctx: &GpuContext,
    params: &ParamSet,
    gradients: &ParamSet,
    momenta: &ParamSet,
) -> Result<SgdStep> {
    let mut sgd = SgdStep::new(
        ctx,
        &SgdHyper {
            lr: 0.0,
            momentum: 0.0,
            weight_decay: 0.0,
            grad_scale: 1.0,
        },
    );
    for ((w, g), v) in params
        .tensors
        .iter()
        .zip(&gradients.tensors)
        .zip(&momenta.tensors)
    {
        sgd.add(ctx, w, g, v)?;
    }
    Ok(sgd)
}
