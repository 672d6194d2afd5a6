//! The backward pass derived from the forward chain: where each activation gradient
//! lives, and each op's launches in reverse order.

use super::super::forward::{push_span, Span};
use super::super::ops::{BackwardPass, Op};
use super::super::param_set::ParamSet;
use super::Network;
use crate::error::Result;
use crate::gpu::arena::{Arena, ArenaTensors, Reservation};
use crate::gpu::Tensor;
use crate::kernels::dropout::DropoutRng;
use crate::kernels::relu::relu_backward;
use crate::kernels::GpuContext;
use crate::kernels::Launch;

/// One op's share of the backward pass: which gradient tensors it reads and writes.
pub(super) struct BackwardStep {
    op: usize,
    output_grad: Reservation,
    /// The gradient after the fused ReLU's backward, for ops with one.
    pre_relu: Option<Reservation>,
    /// None for the first op: nothing needs the gradient of the image.
    input_grad: Option<Reservation>,
}

/// The activation gradients of a batch of `n` in two arena slots (the gradient of an
/// op's output, the gradient before its fused ReLU, and the gradient of its input never
/// need more than two buffers at once): the arena, dlogits' place, and each op's
/// gradients, the last op's first, down to the lowest op that trains (nothing below it
/// needs a gradient).
pub(super) fn gradient_slots(
    ctx: &GpuContext,
    net: &Network,
    n: usize,
) -> Result<(Arena, Reservation, Vec<BackwardStep>)> {
    let ops = &net.ops;
    let mut arena = Arena::new(2);
    let dlogits = arena.reserve(ctx, 0, "dlogits", &net.activation_shape(ops.len(), n))?;
    let mut steps = Vec::new();
    let (mut current, mut slot) = (dlogits, 0);
    let lowest = net.first_trained_op();
    for i in (lowest..ops.len()).rev() {
        // A fused ReLU passes its gradient back in its own pass, unless the next op's
        // backward pass does it (see `relu_passed_back_by`).
        let relu = ops[i].fused_relu() && !relu_passed_back_by(ops, i + 1);
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
        let input_grad = match i == lowest {
            true => None,
            false => Some(arena.reserve(
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
    Ok((arena, dlogits, steps))
}

/// What the backward launches read and write.
pub(super) struct BackwardTensors<'a> {
    pub batch: usize,
    pub ops: &'a [Op],
    /// Every activation; op `i` reads `acts[i]` and wrote `acts[i + 1]`.
    pub acts: &'a [Tensor],
    /// The tensors of [`gradient_slots`]'s arena.
    pub activation_grads: &'a ArenaTensors,
    pub params: &'a ParamSet,
    pub gradients: &'a ParamSet,
    pub rng: &'a DropoutRng,
}

/// One list of backward launches.
pub(super) struct BackwardLaunches {
    pub launches: Vec<Launch>,
    /// Each op's end in `launches` and the parameter pair (weight index; its bias
    /// follows) whose gradient that op completes.
    pub ends: Vec<(usize, Option<usize>)>,
    /// Each op's launches, named for profiles.
    pub spans: Vec<Span>,
}

/// The backward pass of `steps`, overwriting the parameter gradients or, with
/// `accumulate`, adding to them.
pub(super) fn backward_launches(
    ctx: &GpuContext,
    t: &BackwardTensors,
    steps: &[BackwardStep],
    accumulate: bool,
) -> Result<BackwardLaunches> {
    let mut list = BackwardLaunches {
        launches: Vec::new(),
        ends: Vec::new(),
        spans: Vec::new(),
    };
    for step in steps {
        let start = list.launches.len();
        let op = &t.ops[step.op];
        let dy = t.activation_grads.get(step.output_grad);
        let dz = step
            .pre_relu
            .map(|r| t.activation_grads.get(r))
            .unwrap_or(dy);
        if step.pre_relu.is_some() {
            list.launches
                .extend(relu_backward(ctx, &t.acts[step.op + 1], dy, dz)?);
        }
        let pass = BackwardPass {
            batch: t.batch,
            params: t.params,
            gradients: t.gradients,
            accumulate,
            x: &t.acts[step.op],
            dy: dz,
            dx: step.input_grad.map(|r| t.activation_grads.get(r)),
            input_relu: relu_passed_back_by(t.ops, step.op),
            dropout: t.rng,
        };
        list.launches.extend(op.backward(ctx, &pass)?);
        list.ends.push((list.launches.len(), op.param()));
        let name = format!("backward {}", op.name());
        push_span(&mut list.spans, name, start, list.launches.len());
    }
    Ok(list)
}

/// Whether op `next`'s backward pass also passes back the ReLU fused at the op before
/// it (a max-pool after a conv: zero where its input is), so that ReLU skips its own
/// backward pass (a pass over the whole activation, on CPU adapters ~5% of a small net's
/// step).
fn relu_passed_back_by(ops: &[Op], next: usize) -> bool {
    next > 0
        && ops.get(next).is_some_and(|op| op.passes_back_input_relu())
        && ops[next - 1].fused_relu()
}
