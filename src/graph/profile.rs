//! Where a plan's time goes: each op's launches and each kernel's, timed one dispatch
//! at a time ([`crate::kernels::profile`]); for `vgg-wgpu bench step --profile`.

use super::forward::Span;
use crate::error::Result;
use crate::kernels::{profile, GpuContext, Launch, ProfileClock};

/// One run of a plan (a training step, a dense pass), timed per op and per kernel.
#[derive(Clone, Debug)]
pub struct PlanProfile {
    /// (op, seconds) in run order.
    pub per_op: Vec<(String, f64)>,
    /// (kernel entry point, seconds) in order of first use.
    pub per_kernel: Vec<(String, f64)>,
    pub clock: ProfileClock,
}

impl PlanProfile {
    /// Runs `launches` in order, each in its own compute pass, and sums their seconds
    /// over each of `spans` (ranges of `launches`) and over each kernel.
    pub(crate) fn measure(
        ctx: &GpuContext,
        launches: &[&Launch],
        spans: &[Span],
    ) -> Result<PlanProfile> {
        let (seconds, clock) = profile(ctx, launches.iter().copied())?;
        let per_op = spans
            .iter()
            .map(|s| (s.name.clone(), seconds[s.launches.clone()].iter().sum()))
            .collect();
        let mut per_kernel: Vec<(String, f64)> = Vec::new();
        for (launch, t) in launches.iter().zip(&seconds) {
            match per_kernel.iter_mut().find(|(name, _)| name == launch.label) {
                Some((_, sum)) => *sum += t,
                None => per_kernel.push((launch.label.to_string(), *t)),
            }
        }
        Ok(PlanProfile {
            per_op,
            per_kernel,
            clock,
        })
    }
}
