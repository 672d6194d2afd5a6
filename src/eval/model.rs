//! A network under test: its weights on the GPU, what it is (from the file's metadata,
//! or inferred for torchvision-layout files), and its plans, each compiled the first
//! time an input shape needs it and reused after.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::graph::{DenseOutput, DensePlan, EvalPlan, Network, ParamSet};
use crate::model::{describe, ModelMeta, ModelSpec, WeightFile};

pub struct TestModel {
    pub spec: ModelSpec,
    pub meta: ModelMeta,
    /// The file it came from, for messages.
    pub origin: String,
    net: Network,
    params: ParamSet,
    /// Dense plans by (batch, height, width).
    dense: HashMap<(usize, usize, usize), DensePlan>,
    /// Plain-forward plans (multi-crop) by batch size.
    crops: HashMap<usize, EvalPlan>,
}

impl TestModel {
    pub fn new(ctx: &GpuContext, weights: &WeightFile, origin: &str) -> Result<TestModel> {
        let (spec, meta) = describe(weights, origin)?;
        let params = ParamSet::upload(ctx, &spec, weights, origin)?;
        Ok(TestModel {
            net: Network::new(&spec, 0.0),
            spec,
            meta,
            origin: origin.to_string(),
            params,
            dense: HashMap::new(),
            crops: HashMap::new(),
        })
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(ctx: &GpuContext, path: &std::path::Path) -> Result<TestModel> {
        Self::new(ctx, &WeightFile::load(path)?, &path.display().to_string())
    }

    /// The dense plan for images (batch, 3, height, width), compiled on first use.
    pub fn dense_plan(
        &mut self,
        ctx: &GpuContext,
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<&DensePlan> {
        let key = (batch, height, width);
        if !self.dense.contains_key(&key) {
            let plan = DensePlan::new(ctx, &self.net, &self.params, batch, height, width)?;
            self.dense.insert(key, plan);
        }
        Ok(&self.dense[&key])
    }

    /// Dense evaluation of `images` (batch, 3, height, width).
    pub async fn dense(
        &mut self,
        ctx: &GpuContext,
        images: &[f32],
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<DenseOutput> {
        self.dense_plan(ctx, batch, height, width)?
            .run(ctx, images)
            .await
    }

    /// Softmax posteriors (count, classes) of training-size crops (count, 3, S, S)
    /// through the plain network.
    pub async fn crops(
        &mut self,
        ctx: &GpuContext,
        crops: &[f32],
        count: usize,
    ) -> Result<Vec<f32>> {
        if !self.crops.contains_key(&count) {
            let plan = EvalPlan::new(ctx, &self.net, &self.params, count)?;
            self.crops.insert(count, plan);
        }
        self.crops[&count].probabilities(ctx, crops).await
    }
}

/// Checks that the models of an ensemble agree on their classes.
pub fn check_ensemble(models: &[TestModel]) -> Result<()> {
    let Some(first) = models.first() else {
        return Err(Error::InvalidArgument {
            op: "evaluation",
            message: "give at least one weight file".into(),
        });
    };
    for m in &models[1..] {
        if m.spec.classes != first.spec.classes {
            return Err(Error::InvalidArgument {
                op: "ensemble",
                message: format!(
                    "'{}' has {} classes but '{}' has {}: an ensemble's posteriors can only be averaged over the same classes",
                    m.origin, m.spec.classes, first.origin, first.spec.classes
                ),
            });
        }
    }
    Ok(())
}
