//! Training, compiled once: forward, softmax cross-entropy, the backward pass derived
//! from the forward chain, and SGD. A step writes the batch and a few uniforms, records
//! every dispatch of a micro-batch into one command encoder, submits once per
//! micro-batch and once for the update, and reads back only the loss and hit counts.
//! A replica of data-parallel training ([`super::data_parallel`]) runs the same plan
//! in two halves, gradients then update, with the gradient exchange between them.

mod backward;
mod buffers;

use self::backward::{backward_launches, gradient_slots, BackwardTensors};
use self::buffers::{SgdUpdate, StepBuffers};
use super::forward::{forward_launches, push_span, Span};
use super::network::Network;
use super::param_set::ParamSet;
#[cfg(not(target_arch = "wasm32"))]
use super::profile::PlanProfile;
use super::step_stats::StepStats;
use crate::error::{Error, Result};
use crate::gpu::error_scope::{build_in_error_scopes, BuildNames};
use crate::gpu::Tensor;
use crate::kernels::dropout::DropoutRng;
use crate::kernels::GpuContext;
use crate::kernels::{record, Launch};
use crate::shape::{SgdHyper, STATS};

pub struct TrainPlan {
    pub net: Network,
    /// Samples per forward/backward pass.
    pub micro_batch: usize,
    /// Micro-batches whose gradients are summed before one SGD update.
    pub accumulation: usize,
    /// Replicas whose gradients are summed before each update (1 without data
    /// parallelism): the loss gradient is scaled by 1 / (micro_batch × accumulation ×
    /// replicas), the global batch.
    pub replicas: usize,
    pub params: ParamSet,
    /// The momenta of the parameters `net.trainable` trains (none for frozen ones).
    pub momenta: ParamSet,
    /// The gradient of the mean loss for the trained parameters, complete after the
    /// last micro-batch.
    pub gradients: ParamSet,
    /// Every activation of a micro-batch, the images first and the logits last (op `i`
    /// reads `acts[i]`).
    acts: Vec<Tensor>,
    labels: Tensor,
    rng: DropoutRng,
    sgd: SgdUpdate,
    forward: Vec<Launch>,
    /// Backward launches that overwrite the gradients ([0]) or add to them ([1]).
    backward: [Vec<Launch>; 2],
    /// For each list of `backward`, each op's end in it and the parameter pair
    /// (weight index; its bias follows) whose gradient that op completes.
    backward_ends: [Vec<(usize, Option<usize>)>; 2],
    totals: Tensor,
    /// Which launches of forward, then backward[0], then the SGD launches belong to
    /// which op (for [`TrainPlan::profile`]).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    spans: Vec<Span>,
    /// (accumulation, 3): each micro-batch's loss totals, read once per step.
    step_totals: Tensor,
}

impl TrainPlan {
    /// Compiles training of `net` starting from `params`, one replica of `replicas`.
    /// The gradient is the mean over all `micro_batch × accumulation × replicas`
    /// samples of a step.
    pub async fn new(
        ctx: &GpuContext,
        net: &Network,
        params: ParamSet,
        micro_batch: usize,
        accumulation: usize,
        replicas: usize,
    ) -> Result<TrainPlan> {
        if micro_batch == 0 || accumulation == 0 || replicas == 0 {
            return Err(Error::InvalidArgument {
                op: "training plan",
                message: "batch, accumulation and replicas must be at least 1".into(),
            });
        }
        let names = BuildNames {
            op: "training plan",
            size: format!("a micro-batch of {micro_batch} images"),
            fix: "use a smaller --batch with --accumulate to keep the same effective batch",
        };
        build_in_error_scopes(&ctx.device, names, || {
            Self::build(ctx, net, params, micro_batch, accumulation, replicas)
        })
        .await
    }

    fn build(
        ctx: &GpuContext,
        net: &Network,
        params: ParamSet,
        n: usize,
        accumulation: usize,
        replicas: usize,
    ) -> Result<TrainPlan> {
        let buffers = StepBuffers::allocate(ctx, net, n, accumulation)?;
        let (arena, dlogits, steps) = gradient_slots(ctx, net, n)?;
        let activation_grads = arena.allocate(ctx);

        let (mut forward, mut spans) =
            forward_launches(ctx, &net.ops, &params, &buffers.acts, n, Some(&buffers.rng))?;
        let loss_start = forward.len();
        let grad_scale = 1.0 / (n * accumulation * replicas) as f32;
        let dlogits = activation_grads.get(dlogits);
        forward.extend(buffers.loss_launches(ctx, net, dlogits, grad_scale)?);
        push_span(
            &mut spans,
            "softmax cross-entropy".into(),
            loss_start,
            forward.len(),
        );

        let tensors = BackwardTensors {
            batch: n,
            ops: &net.ops,
            acts: &buffers.acts,
            activation_grads: &activation_grads,
            params: &params,
            gradients: &buffers.gradients,
            rng: &buffers.rng,
        };
        let overwrite = backward_launches(ctx, &tensors, &steps, false)?;
        let accumulate = backward_launches(ctx, &tensors, &steps, true)?;
        let base = forward.len();
        for span in overwrite.spans {
            let (start, end) = (span.launches.start, span.launches.end);
            push_span(&mut spans, span.name, base + start, base + end);
        }

        let sgd = SgdUpdate::new(ctx, net, &params, &buffers.gradients, &buffers.momenta)?;
        let sgd_start = forward.len() + overwrite.launches.len();
        let sgd_end = sgd_start + sgd.launches.len();
        push_span(&mut spans, "sgd".into(), sgd_start, sgd_end);
        Ok(TrainPlan {
            net: net.clone(),
            micro_batch: n,
            accumulation,
            replicas,
            params,
            momenta: buffers.momenta,
            gradients: buffers.gradients,
            acts: buffers.acts,
            labels: buffers.labels,
            rng: buffers.rng,
            sgd,
            forward,
            backward: [overwrite.launches, accumulate.launches],
            backward_ends: [overwrite.ends, accumulate.ends],
            totals: buffers.totals,
            spans,
            step_totals: buffers.step_totals,
        })
    }

    /// The weight indices of the parameter pairs in the order the backward pass
    /// finishes their gradients (the last layer's first).
    pub fn gradient_order(&self) -> Vec<usize> {
        self.backward_ends[0]
            .iter()
            .filter_map(|&(_, p)| p)
            .collect()
    }

    /// Samples per SGD update.
    pub fn batch(&self) -> usize {
        self.micro_batch * self.accumulation
    }

    /// One SGD step on `images` (batch, 3, S, S) flattened, with `labels` (batch).
    /// `step` and `seed` key the dropout masks.
    pub async fn step(
        &self,
        ctx: &GpuContext,
        images: &[f32],
        labels: &[u32],
        hyper: &SgdHyper,
        seed: u32,
        step: u32,
    ) -> Result<StepStats> {
        self.submit_gradients(ctx, images, labels, seed, step, 0, &mut |_, _| false)?;
        self.submit_update(ctx, hyper);
        self.read_stats(ctx).await
    }

    /// The first half of a step: writes each micro-batch of `images` (batch, 3, S, S)
    /// and `labels` (batch) and submits its forward and backward passes, leaving the
    /// gradient of this plan's share of the loss in [`Self::gradients`]. `sample_base`
    /// is the global index of this plan's first sample (dropout masks are keyed by it).
    ///
    /// In the last micro-batch, after each op that completes a parameter pair's
    /// gradient, `at_gradient(weight index, encoder)` may record more commands (a copy
    /// of finished gradients); when it returns true the work so far is submitted, and
    /// that submission's index is returned, in order, so the caller can wait for it.
    #[allow(clippy::too_many_arguments)]
    pub fn submit_gradients(
        &self,
        ctx: &GpuContext,
        images: &[f32],
        labels: &[u32],
        seed: u32,
        step: u32,
        sample_base: usize,
        at_gradient: &mut dyn FnMut(usize, &mut wgpu::CommandEncoder) -> bool,
    ) -> Result<Vec<wgpu::SubmissionIndex>> {
        let n = self.micro_batch;
        let image_len = self.acts[0].row_len();
        if labels.len() != self.batch() || images.len() != self.batch() * image_len {
            return Err(Error::Shape {
                op: "training step",
                message: format!(
                    "expected {} images of {} values and as many labels, got {} values and {} labels",
                    self.batch(),
                    image_len,
                    images.len(),
                    labels.len()
                ),
            });
        }
        let mut submissions = Vec::new();
        for k in 0..self.accumulation {
            self.acts[0].write_f32(ctx, &images[k * n * image_len..(k + 1) * n * image_len])?;
            self.labels.write_u32(ctx, &labels[k * n..(k + 1) * n])?;
            self.rng.set(ctx, seed, step, (sample_base + k * n) as u32);
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            record(&self.forward, &mut encoder);
            let mode = (k > 0) as usize;
            if k + 1 < self.accumulation {
                record(&self.backward[mode], &mut encoder);
            } else {
                let mut start = 0;
                for &(end, completes) in &self.backward_ends[mode] {
                    record(&self.backward[mode][start..end], &mut encoder);
                    start = end;
                    let Some(param) = completes else { continue };
                    if at_gradient(param, &mut encoder) {
                        let done = std::mem::replace(
                            &mut encoder,
                            ctx.device.create_command_encoder(&Default::default()),
                        );
                        submissions.push(ctx.queue.submit([done.finish()]));
                    }
                }
            }
            encoder.copy_buffer_to_buffer(
                &self.totals.chunks[0].buffer,
                0,
                &self.step_totals.chunks[0].buffer,
                (k * STATS * 4) as u64,
                (STATS * 4) as u64,
            );
            ctx.queue.submit([encoder.finish()]);
        }
        Ok(submissions)
    }

    /// The second half of a step: the SGD update with [`Self::gradients`].
    pub fn submit_update(&self, ctx: &GpuContext, hyper: &SgdHyper) {
        self.sgd.set(ctx, hyper);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        record(&self.sgd.launches, &mut encoder);
        ctx.queue.submit([encoder.finish()]);
    }

    /// Every activation of the last micro-batch's forward pass, the images first and the
    /// logits last (op `i` read `[i]`; a conv or linear op's output after its ReLU):
    /// what the network computed, to inspect it (`benches/vgg16_precision.py` reads
    /// each ReLU's and max-pool's decisions from them).
    pub async fn activations(&self, ctx: &GpuContext) -> Result<Vec<Vec<f32>>> {
        let mut values = Vec::with_capacity(self.acts.len());
        for act in &self.acts {
            values.push(act.read_f32(ctx).await?);
        }
        Ok(values)
    }

    /// Loss and hit counts of the last step's samples on this plan.
    pub async fn read_stats(&self, ctx: &GpuContext) -> Result<StepStats> {
        let totals = self.step_totals.read_f32(ctx).await?;
        let mut stats = StepStats {
            samples: self.batch(),
            ..Default::default()
        };
        for row in totals.chunks(STATS) {
            stats.loss_sum += row[0] as f64;
            stats.top1_hits += row[1] as f64;
            stats.top5_hits += row[2] as f64;
        }
        Ok(stats)
    }
}

impl TrainPlan {
    /// Seconds of each op's launches in one training step (forward, loss, backward,
    /// SGD; on whatever the buffers hold), summed per op in step order and per kernel
    /// (entry point). Each launch runs in its own compute pass.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(&self, ctx: &GpuContext) -> Result<PlanProfile> {
        let all: Vec<&Launch> = self
            .forward
            .iter()
            .chain(&self.backward[0])
            .chain(&self.sgd.launches)
            .collect();
        PlanProfile::measure(ctx, &all, &self.spans)
    }

    /// Launches in one training step with a single micro-batch.
    pub fn launch_count(&self) -> usize {
        self.forward.len() + self.backward[0].len() + self.sgd.launches.len()
    }
}
