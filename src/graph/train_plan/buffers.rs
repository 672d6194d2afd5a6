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
            gradients: trainable_zeros(ctx, net, "gradient")?,
            momenta: trainable_zeros(ctx, net, "momentum")?,
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

/// Zero-filled tensors for the parameters `net` trains (frozen ones get none).
fn trainable_zeros(ctx: &GpuContext, net: &Network, role: &str) -> Result<ParamSet> {
    ParamSet::zeros_from(ctx, &net.spec, role, net.trainable.first_param())
}

/// The SGD update of every trainable parameter with its gradient and momentum, in
/// groups that share a learning-rate multiplier; the hyper-parameters are written
/// before each step.
pub(super) struct SgdUpdate {
    /// Every group's launches.
    pub launches: Vec<Launch>,
    /// Each group's hyper-parameter buffer and learning-rate multiplier.
    groups: Vec<(SgdStep, f32)>,
}

impl SgdUpdate {
    /// The update of `params` (those that `gradients` and `momenta` cover).
    pub fn new(
        ctx: &GpuContext,
        net: &Network,
        params: &ParamSet,
        gradients: &ParamSet,
        momenta: &ParamSet,
    ) -> Result<SgdUpdate> {
        let unset = SgdHyper {
            lr: 0.0,
            momentum: 0.0,
            weight_decay: 0.0,
            grad_scale: 1.0,
        };
        let mut groups: Vec<(SgdStep, f32)> = Vec::new();
        let trained = gradients
            .infos
            .iter()
            .zip(&gradients.tensors)
            .zip(&momenta.tensors);
        for (k, ((info, g), v)) in trained.enumerate() {
            let scale = net.trainable.lr_scale(info);
            let group = match groups.iter().position(|(_, s)| *s == scale) {
                Some(i) => i,
                None => {
                    groups.push((SgdStep::new(ctx, &unset), scale));
                    groups.len() - 1
                }
            };
            let w = params.get(gradients.first + k);
            groups[group].0.add(ctx, w, g, v)?;
        }
        let launches = groups
            .iter_mut()
            .flat_map(|(step, _)| std::mem::take(&mut step.launches))
            .collect();
        Ok(SgdUpdate { launches, groups })
    }

    /// Writes `hyper`, each group's learning rate scaled by its multiplier.
    pub fn set(&self, ctx: &GpuContext, hyper: &SgdHyper) {
        for (step, scale) in &self.groups {
            let lr = hyper.lr * scale;
            step.set(ctx, &SgdHyper { lr, ..*hyper });
        }
    }
}
