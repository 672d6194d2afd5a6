//! The forward pass of a chain of ops as launches, shared by the training, inference
//! and dense plans.

use super::ops::{ForwardPass, Op};
use super::param_set::ParamSet;
use crate::error::Result;
use crate::gpu::Tensor;
use crate::kernels::dropout::DropoutRng;
use crate::kernels::GpuContext;
use crate::kernels::Launch;

/// A named run of consecutive launches in a plan (one op's share), for profiles.
#[derive(Clone, Debug)]
pub struct Span {
    pub name: String,
    pub launches: std::ops::Range<usize>,
}

/// Appends to `spans` a span named `name` covering launches from `start` to `end`.
pub(crate) fn push_span(spans: &mut Vec<Span>, name: String, start: usize, end: usize) {
    if end > start {
        spans.push(Span {
            name,
            launches: start..end,
        });
    }
}

/// Op `i` reads `acts[i]` and writes `acts[i + 1]`. With `dropout` None (inference)
/// dropout ops record nothing, and the caller makes `acts[i + 1]` the same tensor as
/// `acts[i]`.
pub(crate) fn forward_launches(
    ctx: &GpuContext,
    ops: &[Op],
    params: &ParamSet,
    acts: &[Tensor],
    batch: usize,
    dropout: Option<&DropoutRng>,
) -> Result<(Vec<Launch>, Vec<Span>)> {
    let mut launches = Vec::new();
    let mut spans = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let start = launches.len();
        let pass = ForwardPass {
            batch,
            params,
            x: &acts[i],
            y: &acts[i + 1],
            dropout,
        };
        launches.extend(op.forward(ctx, &pass)?);
        push_span(
            &mut spans,
            format!("forward {}", op.name()),
            start,
            launches.len(),
        );
    }
    Ok((launches, spans))
}
