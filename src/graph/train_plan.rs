//! Training, compiled once: forward, softmax cross-entropy, the backward pass derived
//! from the forward chain, and SGD. A step writes the batch and a few uniforms, records
//! every dispatch of a micro-batch into one command encoder, submits once per
//! micro-batch and once for the update, and reads back only the loss and hit counts.
//! A replica of data-parallel training ([`super::data_parallel`]) runs the same plan
//! in two halves, gradients then update, with the gradient exchange between them.

use super::forward::{forward_launches, push_span, Span};
use super::network::{Network, Op};
use super::param_set::ParamSet;
use crate::error::{Error, Result};
use crate::gpu::arena::{Arena, Reservation};
use crate::gpu::{GpuContext, Tensor};
use crate::kernels::conv::{
    conv2d_backward_data, conv2d_backward_weight, conv2d_backward_weight_accumulate,
};
use crate::kernels::dropout::{dropout_backward, DropoutRng};
use crate::kernels::linear::{
    linear_backward_data, linear_backward_weight, linear_backward_weight_accumulate,
};
use crate::kernels::loss::{softmax_cross_entropy, LossOutputs};
use crate::kernels::lrn::lrn_backward;
use crate::kernels::pool::maxpool2d_backward;
use crate::kernels::relu::relu_backward;
use crate::kernels::sgd::SgdStep;
#[cfg(not(target_arch = "wasm32"))]
use crate::kernels::{profile, ProfileClock};
use crate::kernels::{record, Launch};
use crate::shape::{Dropout, LossShape, SgdHyper, STATS};

/// What one step measured, summed over its samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    pub samples: usize,
    pub loss_sum: f64,
    pub top1_hits: f64,
    pub top5_hits: f64,
}

impl StepStats {
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }
    pub fn add(&mut self, other: &StepStats) {
        self.samples += other.samples;
        self.loss_sum += other.loss_sum;
        self.top1_hits += other.top1_hits;
        self.top5_hits += other.top5_hits;
    }
}

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
    pub momenta: ParamSet,
    /// The gradient of the mean loss, complete after the last micro-batch.
    pub gradients: ParamSet,
    input: Tensor,
    labels: Tensor,
    rng: DropoutRng,
    sgd: SgdStep,
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
        // Buffers past the memory budget fail with an out-of-memory error, and whatever
        // used them afterwards with validation errors: catch both rather than let wgpu's
        // default handler panic.
        let validation = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out_of_memory = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let plan = Self::build(ctx, net, params, micro_batch, accumulation, replicas);
        let oom = out_of_memory.pop().await;
        let invalid = validation.pop().await;
        if oom.is_some() {
            return Err(Error::InvalidArgument {
                op: "training plan",
                message: format!(
                    "a micro-batch of {micro_batch} images does not fit in the GPU's memory; \
                     use a smaller --batch with --accumulate to keep the same effective batch"
                ),
            });
        }
        if let Some(e) = invalid {
            return Err(Error::InvalidArgument {
                op: "training plan",
                message: format!("the GPU rejected the plan: {e}"),
            });
        }
        plan
    }

    fn build(
        ctx: &GpuContext,
        net: &Network,
        params: ParamSet,
        n: usize,
        accumulation: usize,
        replicas: usize,
    ) -> Result<TrainPlan> {
        let ops = &net.ops;
        let acts: Vec<Tensor> = (0..=ops.len())
            .map(|i| Tensor::zeros(ctx, &format!("activation {i}"), &net.activation_shape(i, n)))
            .collect::<Result<_>>()?;
        let classes = net.spec.classes;
        let labels = Tensor::zeros(ctx, "labels", &[n])?;
        let stats = Tensor::zeros(ctx, "loss stats", &[n, STATS])?;
        let totals = Tensor::zeros(ctx, "loss totals", &[STATS])?;
        let step_totals = Tensor::zeros(ctx, "step totals", &[accumulation, STATS])?;
        let grads = ParamSet::zeros(ctx, &net.spec, "gradient")?;
        let momenta = ParamSet::zeros(ctx, &net.spec, "momentum")?;
        let rng = DropoutRng::new(ctx);

        // Activation gradients live in two arena slots: the gradient of an op's output,
        // the gradient before its fused ReLU, and the gradient of its input never need
        // more than two buffers at once.
        let mut arena = Arena::new(2);
        let dlogits = arena.reserve(ctx, 0, "dlogits", &net.activation_shape(ops.len(), n))?;
        let mut steps = Vec::new();
        let (mut current, mut slot) = (dlogits, 0);
        for i in (0..ops.len()).rev() {
            // A conv's ReLU passes its gradient back in its own pass, unless a max-pool
            // follows: the pool's backward pass then does it (see `pool_through_relu`).
            let relu = match ops[i] {
                Op::Conv { .. } => !pool_through_relu(ops, i + 1),
                Op::Linear { relu, .. } => relu,
                _ => false,
            };
            let pre_relu = match relu {
                true => Some(arena.reserve(
                    ctx,
                    1 - slot,
                    "pre-ReLU gradient",
                    &net.activation_shape(i + 1, n),
                )?),
                false => None,
            };
            let gz_slot = if relu { 1 - slot } else { slot };
            let input_grad = match i {
                0 => None,
                _ => Some(arena.reserve(
                    ctx,
                    1 - gz_slot,
                    "activation gradient",
                    &net.activation_shape(i, n),
                )?),
            };
            steps.push(BackwardStep {
                op: i,
                output_grad: current,
                pre_relu,
                input_grad,
            });
            if let Some(g) = input_grad {
                current = g;
                slot = 1 - gz_slot;
            }
        }
        let grad_tensors = arena.allocate(ctx);

        let (mut forward, mut spans) = forward_launches(ctx, net, &params, &acts, n, Some(&rng))?;
        let loss_start = forward.len();
        let loss_shape = LossShape { batch: n, classes };
        let grad_scale = 1.0 / (n * accumulation * replicas) as f32;
        let outputs = LossOutputs {
            dlogits: grad_tensors.get(dlogits),
            stats: &stats,
            totals: &totals,
        };
        forward.extend(softmax_cross_entropy(
            ctx,
            &loss_shape,
            grad_scale,
            &acts[ops.len()],
            &labels,
            &outputs,
        )?);
        push_span(
            &mut spans,
            "softmax cross-entropy".into(),
            loss_start,
            forward.len(),
        );

        let mut backward = [Vec::new(), Vec::new()];
        let mut backward_ends = [Vec::new(), Vec::new()];
        for (mode, (launches, ends)) in backward.iter_mut().zip(&mut backward_ends).enumerate() {
            let accumulate = mode == 1;
            for step in &steps {
                let start = launches.len();
                let op = &ops[step.op];
                let dy = grad_tensors.get(step.output_grad);
                let dz = step.pre_relu.map(|r| grad_tensors.get(r)).unwrap_or(dy);
                let dx = step.input_grad.map(|r| grad_tensors.get(r));
                let (x, y) = (&acts[step.op], &acts[step.op + 1]);
                if step.pre_relu.is_some() {
                    launches.extend(relu_backward(ctx, y, dy, dz)?);
                }
                match *op {
                    Op::Conv { param, .. } => {
                        let s = Network::conv_shape(op, n).expect("conv op");
                        let (dw, db) = grads.pair(param);
                        launches.extend(match accumulate {
                            false => conv2d_backward_weight(ctx, &s, x, dz, dw, db)?,
                            true => conv2d_backward_weight_accumulate(ctx, &s, x, dz, dw, db)?,
                        });
                        if let Some(dx) = dx {
                            launches.extend(conv2d_backward_data(
                                ctx,
                                &s,
                                dz,
                                params.pair(param).0,
                                dx,
                            )?);
                        }
                    }
                    Op::Linear { param, .. } => {
                        let s = Network::linear_shape(op, n).expect("linear op");
                        let (dw, db) = grads.pair(param);
                        let x = x.reshaped(&s.input())?;
                        launches.extend(match accumulate {
                            false => linear_backward_weight(ctx, &s, &x, dz, dw, db)?,
                            true => linear_backward_weight_accumulate(ctx, &s, &x, dz, dw, db)?,
                        });
                        if let Some(dx) = dx {
                            launches.extend(linear_backward_data(
                                ctx,
                                &s,
                                dz,
                                params.pair(param).0,
                                &dx.reshaped(&s.input())?,
                            )?);
                        }
                    }
                    Op::MaxPool { .. } => {
                        let s = Network::pool_shape(op, n).expect("pool op");
                        launches.extend(maxpool2d_backward(
                            ctx,
                            &s,
                            x,
                            dy,
                            dx.expect("pool is never first"),
                            pool_through_relu(ops, step.op),
                        )?);
                    }
                    Op::Lrn(lrn) => {
                        if let Some(dx) = dx {
                            launches.extend(lrn_backward(ctx, &lrn, x, dy, dx)?);
                        }
                    }
                    Op::Dropout { p, .. } => {
                        launches.extend(dropout_backward(
                            ctx,
                            &Dropout { p },
                            &rng,
                            dy,
                            dx.expect("dropout is never first"),
                        )?);
                    }
                }
                let completes = match *op {
                    Op::Conv { param, .. } | Op::Linear { param, .. } => Some(param),
                    _ => None,
                };
                ends.push((launches.len(), completes));
                if mode == 0 {
                    let base = forward.len();
                    let name = format!("backward {}", op.name());
                    push_span(&mut spans, name, base + start, base + launches.len());
                }
            }
        }

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
            .zip(&grads.tensors)
            .zip(&momenta.tensors)
        {
            sgd.add(ctx, w, g, v)?;
        }
        let sgd_start = forward.len() + backward[0].len();
        let sgd_end = sgd_start + sgd.launches.len();
        push_span(&mut spans, "sgd".into(), sgd_start, sgd_end);
        Ok(TrainPlan {
            net: net.clone(),
            micro_batch: n,
            accumulation,
            replicas,
            params,
            momenta,
            gradients: grads,
            input: acts[0].clone(),
            labels,
            rng,
            sgd,
            forward,
            backward,
            backward_ends,
            totals,
            spans,
            step_totals,
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
        let image_len = self.input.row_len();
        if labels.len() != self.batch() || images.len() != self.batch() * image_len {
            return Err(Error::InvalidArgument {
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
            self.input
                .write_f32(ctx, &images[k * n * image_len..(k + 1) * n * image_len])?;
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
    /// SGD; on whatever the buffers hold), summed per op in step order; the same summed
    /// per kernel (entry point); and how they were timed. Each launch runs in its own
    /// compute pass.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(&self, ctx: &GpuContext) -> Result<StepProfile> {
        let all: Vec<&Launch> = self
            .forward
            .iter()
            .chain(&self.backward[0])
            .chain(&self.sgd.launches)
            .collect();
        let (seconds, clock) = profile(ctx, all.iter().copied())?;
        let per_op = self
            .spans
            .iter()
            .map(|s| (s.name.clone(), seconds[s.launches.clone()].iter().sum()))
            .collect();
        let mut per_kernel: Vec<(String, f64)> = Vec::new();
        for (launch, t) in all.iter().zip(&seconds) {
            match per_kernel.iter_mut().find(|(name, _)| name == launch.label) {
                Some((_, sum)) => *sum += t,
                None => per_kernel.push((launch.label.to_string(), *t)),
            }
        }
        Ok(StepProfile {
            per_op,
            per_kernel,
            clock,
        })
    }

    /// Launches in one training step with a single micro-batch.
    pub fn launch_count(&self) -> usize {
        self.forward.len() + self.backward[0].len() + self.sgd.launches.len()
    }
}

/// Where one training step's time goes: see [`TrainPlan::profile`].
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Debug)]
pub struct StepProfile {
    /// (op, seconds) in step order.
    pub per_op: Vec<(String, f64)>,
    /// (kernel entry point, seconds) in order of first use.
    pub per_kernel: Vec<(String, f64)>,
    pub clock: ProfileClock,
}

/// One op's share of the backward pass: which gradient tensors it reads and writes.
struct BackwardStep {
    op: usize,
    output_grad: Reservation,
    /// The gradient after the fused ReLU's backward, for ops with one.
    pre_relu: Option<Reservation>,
    /// None for the first op: nothing needs the gradient of the image.
    input_grad: Option<Reservation>,
}

/// Whether op `pool` is a max-pool whose input is a conv's ReLU output: its backward
/// pass then also applies that ReLU's (zero where the input is), and the conv skips its
/// own ReLU backward pass (a pass over the whole activation, on CPU adapters ~5% of a
/// small net's step).
fn pool_through_relu(ops: &[Op], pool: usize) -> bool {
    matches!(ops.get(pool), Some(Op::MaxPool { .. }))
        && pool > 0
        && matches!(ops[pool - 1], Op::Conv { .. })
}
