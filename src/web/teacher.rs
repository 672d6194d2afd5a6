//! The user's own classes taught to a loaded model in the tab, as Teachable Machine
//! does with its networks: examples added one at a time (webcam frames, files), SGD one
//! step per call on them with the paper's augmentation, and the taught network to
//! classify with or to download as a file the CLI reads.

use std::rc::Rc;

use image::RgbImage;
use wasm_bindgen::prelude::*;

use super::training::{StepReport, TabTraining};
use super::{js_error, rgb_from_rgba, Classifier};
use crate::data::augment::rescaled_size;
use crate::data::image_folder::decode;
use crate::data::{Dataset, ImageList};
use crate::error::Error;
use crate::gpu::Storage;
use crate::graph::{Network, ParamSet, TrainPlan};
use crate::kernels::GpuContext;
use crate::model::WeightFile;
use crate::train::new_classes::NewClasses;

/// New classes being taught: made by `Classifier.teach`.
#[wasm_bindgen]
pub struct Teacher {
    ctx: Rc<GpuContext>,
    /// What is taught (its starting weights already on the GPU, dropped here).
    new: NewClasses,
    examples: ImageList,
    /// How many examples the loader in use holds: when more are added, the next step
    /// starts an epoch over all of them.
    in_loader: usize,
    batch: usize,
    lr: f32,
    seed: u32,
    /// The compiled plan until the first step, which hands it to `training`.
    plan: Option<TrainPlan>,
    training: Option<TabTraining>,
    /// Its classifiers run on the CPU engine (as the classifier it was taught from).
    classify_on_cpu: bool,
}

impl Teacher {
    pub(super) async fn new(
        ctx: Rc<GpuContext>,
        mut new: NewClasses,
        batch: usize,
        lr: f32,
        seed: u32,
        classify_on_cpu: bool,
    ) -> crate::Result<Teacher> {
        let net = Network::new(&new.spec, 0.5).with_trainable(new.trainable)?;
        let start = std::mem::take(&mut new.weights);
        let params = ParamSet::upload(&ctx, &new.spec, &start, "the starting weights")?;
        drop(start);
        let plan = TrainPlan::new(&ctx, &net, params, batch.max(1), 1, 1).await?;
        Ok(Teacher {
            ctx,
            examples: ImageList::new(new.meta.class_names.clone()),
            new,
            in_loader: 0,
            batch: batch.max(1),
            lr,
            seed,
            plan: Some(plan),
            training: None,
            classify_on_cpu,
        })
    }

    /// Keeps `image` at the largest size training uses: its shorter side at most the
    /// largest training scale (the augmentation rescales to that scale or less anyway).
    fn add(&mut self, image: RgbImage, label: u32) -> crate::Result<()> {
        let s_max = self.new.meta.train_scale[1];
        let image = match image.width().min(image.height()) > s_max {
            true => {
                let (w, h) = rescaled_size(image.width(), image.height(), s_max);
                image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle)
            }
            false => image,
        };
        self.examples.push(image, label)
    }

    async fn next_step(&mut self) -> crate::Result<StepReport> {
        if self.examples.len() != self.in_loader {
            let loader = self
                .new
                .loader(&self.examples, self.batch, self.seed as u64)?;
            match (&mut self.training, self.plan.take()) {
                (Some(training), _) => training.set_loader(loader)?,
                (None, Some(plan)) => {
                    let meta = self.new.meta.clone();
                    let training = TabTraining::new(plan, meta, loader, self.lr, self.seed)?;
                    self.training = Some(training);
                }
                (None, None) => unreachable!("the plan is handed over with the first loader"),
            }
            self.in_loader = self.examples.len();
        }
        match &mut self.training {
            Some(training) => training.step(&self.ctx).await,
            None => Err(Error::InvalidArgument {
                op: "teaching",
                message: "there are no examples yet: add some to every class".into(),
            }),
        }
    }

    async fn weight_file(&self) -> crate::Result<WeightFile> {
        match (&self.training, &self.plan) {
            (Some(training), _) => training.weight_file(&self.ctx).await,
            (None, Some(plan)) => {
                let mut weights = plan.params.download(&self.ctx).await?;
                self.new.meta.write(&mut weights);
                Ok(weights)
            }
            (None, None) => unreachable!("a teacher has its plan or its training"),
        }
    }
}

#[wasm_bindgen]
impl Teacher {
    /// What the network took from the loaded model: "copied 30 tensors of …; new:
    /// classifier.6 (1000 → 3 classes)".
    #[wasm_bindgen(getter)]
    pub fn note(&self) -> String {
        self.new.note.clone()
    }

    /// Adds a JPEG or PNG file's bytes as an example of class `label`.
    #[wasm_bindgen(js_name = addExample)]
    pub fn add_example(&mut self, label: u32, bytes: &[u8]) -> Result<(), JsError> {
        let image = decode(bytes).map_err(|m| JsError::new(&m))?;
        self.add(image, label).map_err(js_error)
    }

    /// Adds an image the browser decoded ((height, width, 4) RGBA bytes, a webcam
    /// frame or a format the CLI does not read) as an example of class `label`.
    #[wasm_bindgen(js_name = addExampleRgba)]
    pub fn add_example_rgba(
        &mut self,
        label: u32,
        width: u32,
        height: u32,
        rgba: &[u8],
    ) -> Result<(), JsError> {
        let image = rgb_from_rgba(width, height, rgba)?;
        self.add(image, label).map_err(js_error)
    }

    /// Examples of each class, in class order.
    pub fn counts(&self) -> Vec<u32> {
        self.examples.counts().iter().map(|&n| n as u32).collect()
    }

    /// One SGD step on the next batch of the examples (every class needs one).
    pub async fn step(&mut self) -> Result<StepReport, JsError> {
        self.next_step().await.map_err(js_error)
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> usize {
        self.training
            .as_ref()
            .map_or(0, TabTraining::steps_per_epoch)
    }

    /// Changes the learning rate from the next step on.
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
        if let Some(training) = &mut self.training {
            training.hyper.lr = lr;
        }
    }

    /// A classifier of the taught classes with the weights as they are now.
    pub async fn classifier(&self) -> Result<Classifier, JsError> {
        let weights = self.weight_file().await.map_err(js_error)?;
        let origin = "the network taught here";
        let cpu = self.classify_on_cpu;
        Classifier::new(self.ctx.clone(), weights, origin, Storage::F32, cpu)
    }

    /// The weights as they are now, with the class names: a safetensors file the CLI
    /// reads.
    pub async fn safetensors(&self) -> Result<Vec<u8>, JsError> {
        let weights = self.weight_file().await.map_err(js_error)?;
        weights.to_bytes().map_err(js_error)
    }
}
