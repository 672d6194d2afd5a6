//! The frozen front of a network run forward, compiled once for one batch size, its
//! last activation read back: what a [`crate::train::FeatureCache`] keeps for each
//! image (VGG-16's pool5, 512×7×7, when every conv layer is frozen).

use super::eval_plan::inference_activations;
use super::forward::forward_launches;
use super::network::Network;
use super::param_set::ParamSet;
use crate::error::{Error, Result};
use crate::gpu::error_scope::{build_in_error_scopes, BuildNames};
use crate::gpu::Tensor;
use crate::kernels::GpuContext;
use crate::kernels::{record, Launch};

pub struct FeaturePlan {
    pub batch: usize,
    /// (batch, input...) of the part.
    input: Tensor,
    /// (batch, output...) of the part.
    output: Tensor,
    forward: Vec<Launch>,
}

impl FeaturePlan {
    /// The forward pass of `front` (a [`Network::part`] with no dropout that applies at
    /// inference only) over `batch` samples, with `params` shared with whoever else
    /// holds them.
    pub async fn new(
        ctx: &GpuContext,
        front: &Network,
        params: &ParamSet,
        batch: usize,
    ) -> Result<FeaturePlan> {
        if batch == 0 || front.ops.is_empty() {
            return Err(Error::InvalidArgument {
                op: "feature plan",
                message: "needs a batch of at least 1 and one op at least".into(),
            });
        }
        let names = BuildNames {
            op: "feature plan",
            size: format!("a batch of {batch} images"),
            fix: "compute the features of fewer images at once: a smaller --batch",
        };
        build_in_error_scopes(&ctx.device, names, || {
            let acts = inference_activations(ctx, front, batch)?;
            let (forward, _) = forward_launches(ctx, &front.ops, params, &acts, batch, None)?;
            Ok(FeaturePlan {
                batch,
                input: acts[0].clone(),
                output: acts[front.ops.len()].clone(),
                forward,
            })
        })
        .await
    }

    /// The part's output for `inputs` (batch, input...), as (batch, output...).
    pub async fn run(&self, ctx: &GpuContext, inputs: &[f32]) -> Result<Vec<f32>> {
        self.input.write_f32(ctx, inputs)?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        record(&self.forward, &mut encoder);
        ctx.queue.submit([encoder.finish()]);
        self.output.read_f32(ctx).await
    }
}
