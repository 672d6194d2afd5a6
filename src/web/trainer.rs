//! Training of the CLI's default network on the built-in data set, in the tab.

use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;

use super::training::{StepReport, TabTraining};
use super::{js_error, Classifier};
use crate::data::{
    ColourStats, Dataset, Loader, LoaderConfig, Split, SyntheticDataset, TrainAugment, Transform,
};
use crate::error::Error;
use crate::gpu::Storage;
use crate::graph::{Network, ParamSet, TrainPlan};
use crate::kernels::GpuContext;
use crate::model::{Config, ModelMeta, ModelSpec};
use crate::train::init::{random_weights, Init};

/// Training of `vgg-wgpu train`'s default network on the built-in data set, driven one
/// step at a time by the page. Same data, augmentation, initialisation and SGD as the
/// CLI; the learning rate is constant (no validation-driven schedule in the page).
#[wasm_bindgen]
pub struct Trainer {
    ctx: Rc<GpuContext>,
    training: TabTraining,
    /// Its classifiers run on the CPU engine (the page's choice, [`super::Gpu`]).
    classify_on_cpu: bool,
}

impl Trainer {
    pub(super) async fn new(
        ctx: Rc<GpuContext>,
        images: usize,
        batch: usize,
        lr: f32,
        seed: u32,
        classify_on_cpu: bool,
    ) -> crate::Result<Trainer> {
        let size = SyntheticDataset::DEFAULT_SIZE;
        let train_set: Arc<dyn Dataset> = Arc::new(SyntheticDataset::new(
            seed as u64,
            Split::Train,
            images,
            size,
        )?);
        if images < batch.max(1) {
            return Err(Error::InvalidArgument {
                op: "training",
                message: format!("{images} images make no full batch of {batch}"),
            });
        }
        let spec = ModelSpec {
            config: Config::A,
            classes: train_set.num_classes(),
            input_size: size as usize,
            width_divisor: 8,
        };
        spec.validate()?;
        // The CLI's defaults: S = crop + crop/8, the paper's augmentation.
        let scale = size + size / 8;
        let stats = ColourStats::estimate(train_set.as_ref(), 1000)?; // as the CLI
        let augment = TrainAugment::paper(&stats, scale, scale, size)?;
        let meta = ModelMeta::new(
            &spec,
            train_set.class_names().to_vec(),
            augment.preprocessing,
            [scale, scale],
        );
        let loader = Loader::new(
            train_set,
            Transform::Train(augment),
            LoaderConfig {
                drop_last: true,
                workers: 0,
                ..LoaderConfig::train(batch, seed as u64)
            },
        )?;
        let weights = random_weights(&spec, &Init::Glorot, seed as u64);
        let params = ParamSet::upload(&ctx, &spec, &weights, "initial weights")?;
        let plan = TrainPlan::new(&ctx, &Network::new(&spec, 0.5), params, batch, 1, 1).await?;
        let training = TabTraining::new(plan, meta, loader, lr, seed)?;
        Ok(Trainer {
            ctx,
            training,
            classify_on_cpu,
        })
    }
}

#[wasm_bindgen]
impl Trainer {
    /// One SGD step on the next batch of the epoch (a new epoch after the last one).
    pub async fn step(&mut self) -> Result<StepReport, JsError> {
        self.training.step(&self.ctx).await.map_err(js_error)
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> usize {
        self.training.steps_per_epoch()
    }

    /// Changes the learning rate from the next step on.
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.training.hyper.lr = lr;
    }

    /// A classifier with the weights as they are now.
    pub async fn classifier(&self) -> Result<Classifier, JsError> {
        let weights = self
            .training
            .weight_file(&self.ctx)
            .await
            .map_err(js_error)?;
        let origin = "the network trained in this tab";
        let cpu = self.classify_on_cpu;
        Classifier::new(self.ctx.clone(), weights, origin, Storage::F32, cpu)
    }

    /// The weights as they are now, as a safetensors file the CLI reads.
    pub async fn safetensors(&self) -> Result<Vec<u8>, JsError> {
        let weights = self
            .training
            .weight_file(&self.ctx)
            .await
            .map_err(js_error)?;
        weights.to_bytes().map_err(js_error)
    }
}
