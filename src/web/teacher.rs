//! The user's own classes taught to a loaded model in the tab, as Teachable Machine
//! does with its networks: each example's frozen convolutions run once per view as
//! soon as it is added (webcam frames, files), on the engine that classifies; Teach
//! trains only the head on what is kept ([`crate::train::teaching`]), one SGD step per
//! call; the taught network classifies, or downloads as a file the CLI reads.

use std::ops::Range;
use std::rc::Rc;

use image::RgbImage;
use wasm_bindgen::prelude::*;

use super::classifier::Model;
use super::pause::BrowserPause;
use super::training::StepReport;
use super::{js_error, now_ms, rgb_from_rgba, Classifier};
use crate::data::augment::rescaled_size;
use crate::data::image_folder::decode;
use crate::error::{Error, Result as EngineResult};
use crate::kernels::GpuContext;
use crate::model::{ModelMeta, ModelSpec, WeightFile};
use crate::train::new_classes::{Head, NewClasses};
use crate::train::teaching::{CpuFrozen, Examples, FrozenLayers, GpuFrozen, Teaching};

/// The frozen layers of the model taught, where its classifier computes.
enum Frozen {
    Cpu(CpuFrozen<BrowserPause>),
    Gpu(GpuFrozen),
}

impl FrozenLayers for Frozen {
    async fn run(
        &mut self,
        ctx: &GpuContext,
        range: Range<usize>,
        x: Vec<f32>,
        batch: usize,
    ) -> EngineResult<Vec<f32>> {
        match self {
            Frozen::Cpu(cpu) => cpu.run(ctx, range, x, batch).await,
            Frozen::Gpu(gpu) => gpu.run(ctx, range, x, batch).await,
        }
    }
}

/// Examples of new classes and, once Teach was pressed, the head taught on them: made
/// by `Classifier.teacher`.
#[wasm_bindgen]
pub struct Teacher {
    ctx: Rc<GpuContext>,
    frozen: Frozen,
    /// The model taught, as its classifier describes it.
    spec: ModelSpec,
    meta: ModelMeta,
    origin: String,
    examples: Examples,
    /// Milliseconds the frozen layers took for each example added, in order.
    example_ms: Vec<f64>,
    teaching: Option<Teaching>,
}

impl Teacher {
    pub(super) fn new(ctx: Rc<GpuContext>, model: &Model) -> EngineResult<Teacher> {
        let frozen = match model {
            Model::Cpu(model) => Frozen::Cpu(CpuFrozen {
                model: model.clone(),
                pause: BrowserPause::new(),
            }),
            Model::Gpu(model) => {
                let (net, params) = model.network();
                Frozen::Gpu(GpuFrozen::new(net, params))
            }
        };
        Ok(Teacher {
            ctx,
            frozen,
            spec: model.spec().clone(),
            meta: model.meta().clone(),
            origin: model.origin().to_string(),
            examples: Examples::new(model.spec(), model.meta())?,
            example_ms: Vec::new(),
            teaching: None,
        })
    }

    /// Adds `image` as an example of class `label`, shrunk first to at most the test
    /// transform's scale (its views are made at that scale).
    async fn add(&mut self, image: RgbImage, label: u32) -> EngineResult<()> {
        let start = now_ms();
        let q = self.meta.train_scale[0];
        let image = match image.width().min(image.height()) > q {
            true => {
                let (w, h) = rescaled_size(image.width(), image.height(), q);
                image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle)
            }
            false => image,
        };
        self.examples
            .add(&self.ctx, &mut self.frozen, &image, label)
            .await?;
        self.example_ms.push(now_ms() - start);
        Ok(())
    }

    /// The source's tensors of the layers `head` trains, below its new last layer.
    async fn source_tensors(&self, first: usize) -> EngineResult<WeightFile> {
        match &self.frozen {
            Frozen::Cpu(cpu) => Ok(cpu.model.tensors_from(first)),
            Frozen::Gpu(gpu) => gpu.params.download_from(&self.ctx, first).await,
        }
    }

    fn teaching(&self) -> EngineResult<&Teaching> {
        self.teaching
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument {
                op: "teaching",
                message: "nothing is taught yet: press Teach first".into(),
            })
    }

    /// The taught network as it is now: the model's frozen layers (shared) and the
    /// taught head (read back: the head alone, not the whole network).
    async fn taught(&self) -> EngineResult<Model> {
        let teaching = self.teaching()?;
        let head = teaching.head_weights(&self.ctx).await?;
        let (spec, meta) = (teaching.new.spec.clone(), teaching.new.meta.clone());
        let first = teaching.first_param();
        let origin = "the network taught here";
        Ok(match &self.frozen {
            Frozen::Cpu(cpu) => Model::Cpu(cpu.model.with_head(spec, meta, origin, head, first)?),
            Frozen::Gpu(gpu) => {
                let params = gpu
                    .params
                    .with_head(&self.ctx, &spec, &head, origin, first)?;
                Model::Gpu(crate::eval::TestModel::from_params(
                    spec, meta, origin, params,
                ))
            }
        })
    }
}

#[wasm_bindgen]
impl Teacher {
    /// Adds a JPEG or PNG file's bytes as an example of class `label`: its views run
    /// through the frozen convolutions now.
    #[wasm_bindgen(js_name = addExample)]
    pub async fn add_example(&mut self, label: u32, bytes: Vec<u8>) -> Result<(), JsError> {
        let image = decode(&bytes).map_err(|m| JsError::new(&m))?;
        self.add(image, label).await.map_err(js_error)
    }

    /// Adds an image the browser decoded ((height, width, 4) RGBA bytes, a webcam
    /// frame or a format the CLI does not read) as an example of class `label`.
    #[wasm_bindgen(js_name = addExampleRgba)]
    pub async fn add_example_rgba(
        &mut self,
        label: u32,
        width: u32,
        height: u32,
        rgba: Vec<u8>,
    ) -> Result<(), JsError> {
        let image = rgb_from_rgba(width, height, &rgba)?;
        self.add(image, label).await.map_err(js_error)
    }

    /// Examples of each of the first `classes` classes, in class order.
    pub fn counts(&self, classes: usize) -> Vec<u32> {
        let counts = self.examples.counts(classes);
        counts.into_iter().map(|n| n as u32).collect()
    }

    /// Views that ran through the frozen convolutions so far: the views of every
    /// example once, however long teaching goes on.
    #[wasm_bindgen(getter, js_name = frontPasses)]
    pub fn front_passes(&self) -> usize {
        self.examples.front_passes
    }

    /// Views kept of each example.
    #[wasm_bindgen(getter)]
    pub fn views(&self) -> usize {
        self.examples.cache.views
    }

    /// Milliseconds each example took to add (its views through the frozen layers).
    #[wasm_bindgen(getter, js_name = exampleMs)]
    pub fn example_ms(&self) -> Vec<f64> {
        self.example_ms.clone()
    }

    /// Starts teaching the classes named `class_names` (every example's label is one
    /// of them): a new last layer, and with `whole_classifier` the other FC layers too
    /// (else they stay frozen, and run once on each example's kept features). SGD on
    /// batches of `batch` at rate `lr`. What came before is dropped.
    pub async fn start(
        &mut self,
        class_names: Vec<String>,
        whole_classifier: bool,
        batch: usize,
        lr: f32,
        seed: u32,
    ) -> Result<(), JsError> {
        self.teaching = None;
        let head = match whole_classifier {
            true => Head::Classifier,
            false => Head::LastLayer,
        };
        let first = 2 * head.frozen_layers(&self.spec);
        let source = self.source_tensors(first).await.map_err(js_error)?;
        let new = NewClasses::new(source, &self.meta, &self.origin, class_names, head)
            .map_err(js_error)?;
        let teaching = Teaching::new(&self.ctx, new, batch, lr, seed as u64).await;
        self.teaching = Some(teaching.map_err(js_error)?);
        Ok(())
    }

    /// Whether Teach has started (and not been reset since).
    #[wasm_bindgen(getter)]
    pub fn started(&self) -> bool {
        self.teaching.is_some()
    }

    /// Drops what was taught; the examples and their features stay.
    pub fn reset(&mut self) {
        self.teaching = None;
    }

    /// What the network took from the loaded model: "copied 30 tensors of …; new:
    /// classifier.6 (1000 → 3 classes)".
    #[wasm_bindgen(getter)]
    pub fn note(&self) -> String {
        self.teaching
            .as_ref()
            .map_or_else(String::new, |t| t.new.note.clone())
    }

    /// One SGD step on the next batch of the examples' kept features (every class
    /// needs one example at least).
    pub async fn step(&mut self) -> Result<StepReport, JsError> {
        let start = now_ms();
        let teaching = self
            .teaching
            .as_mut()
            .ok_or_else(|| JsError::new("nothing is taught yet: press Teach first"))?;
        let step = teaching
            .step(&self.ctx, &mut self.frozen, &self.examples)
            .await
            .map_err(js_error)?;
        let seconds = (now_ms() - start) / 1000.0;
        let count = teaching.steps();
        Ok(StepReport::new(
            count,
            step.epoch,
            step.batch,
            &step.stats,
            seconds,
        ))
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> usize {
        self.teaching
            .as_ref()
            .map_or(0, |t| t.steps_per_epoch(&self.examples))
    }

    /// Changes the learning rate from the next step on.
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&mut self, lr: f32) {
        if let Some(teaching) = &mut self.teaching {
            teaching.hyper.lr = lr;
        }
    }

    /// A classifier of the taught classes with the weights as they are now: it shares
    /// the model's frozen layers, and only the head is read back.
    pub async fn classifier(&self) -> Result<Classifier, JsError> {
        let model = self.taught().await.map_err(js_error)?;
        Ok(Classifier::of(self.ctx.clone(), model))
    }

    /// The whole taught network as it is now, with the class names: a safetensors file
    /// the CLI reads.
    pub async fn safetensors(&self) -> Result<Vec<u8>, JsError> {
        let weights = match self.taught().await.map_err(js_error)? {
            Model::Cpu(model) => model.weight_file(),
            Model::Gpu(model) => model.weight_file(&self.ctx).await.map_err(js_error)?,
        };
        weights.to_bytes().map_err(js_error)
    }
}
