//! The forward pass of a [`Network`] as launches, shared by the training and
//! inference plans.

use super::network::{Network, Op};
use super::param_set::ParamSet;
use crate::error::Result;
use crate::gpu::{GpuContext, Tensor};
use crate::kernels::conv::conv2d_forward;
use crate::kernels::dropout::{dropout_forward, DropoutRng};
use crate::kernels::linear::linear_forward;
use crate::kernels::lrn::lrn_forward;
use crate::kernels::pool::maxpool2d_forward;
use crate::kernels::Launch;
use crate::shape::Dropout;

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
    net: &Network,
    params: &ParamSet,
    acts: &[Tensor],
    batch: usize,
    dropout: Option<&DropoutRng>,
) -> Result<(Vec<Launch>, Vec<Span>)> {
    let mut launches = Vec::new();
    let mut spans = Vec::new();
    for (i, op) in net.ops.iter().enumerate() {
        let (x, y) = (&acts[i], &acts[i + 1]);
        let start = launches.len();
        match *op {
            Op::Conv { param, .. } => {
                let s = Network::conv_shape(op, batch).expect("conv op");
                let (w, b) = params.pair(param);
                launches.extend(conv2d_forward(ctx, &s, true, x, w, b, y)?);
            }
            Op::Lrn(lrn) => launches.extend(lrn_forward(ctx, &lrn, x, y)?),
            Op::MaxPool { .. } => {
                let s = Network::pool_shape(op, batch).expect("pool op");
                launches.extend(maxpool2d_forward(ctx, &s, x, y)?);
            }
            Op::Linear { relu, param, .. } => {
                let s = Network::linear_shape(op, batch).expect("linear op");
                let (w, b) = params.pair(param);
                launches.extend(linear_forward(
                    ctx,
                    &s,
                    relu,
                    &x.reshaped(&s.input())?,
                    w,
                    b,
                    y,
                )?);
            }
            Op::Dropout { p, .. } => {
                if let Some(rng) = dropout {
                    launches.extend(dropout_forward(ctx, &Dropout { p }, rng, x, y)?);
                }
            }
        }
        push_span(
            &mut spans,
            format!("forward {}", op.name()),
            start,
            launches.len(),
        );
    }
    Ok((launches, spans))
}
