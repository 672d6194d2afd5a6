//! The browser API (wasm32 only), bound with wasm-bindgen and driven by `web/app.js`.
//!
//! - [`Gpu`]: the browser's WebGPU adapter opened with its real limits.
//! - [`Classifier`]: a weight file on the GPU; an image in, the paper's dense
//!   evaluation with flips over the model's test scales out (what `vgg-wgpu classify`
//!   does), plus the top class's score map drawn over the image.
//! - [`Trainer`]: the CLI's default small VGG trained on the built-in data set, one
//!   SGD step per call, so the page stays responsive and can pause between steps.
//!
//! Every GPU readback is `map_async` awaited through a channel: nothing here blocks the
//! browser's main thread.

use std::rc::Rc;
use std::sync::Arc;

use image::{ImageFormat, RgbImage};
use wasm_bindgen::prelude::*;

use crate::data::augment::rescaled_size;
use crate::data::image_folder::decode;
use crate::data::{
    Batches, ColourStats, Dataset, Loader, LoaderConfig, Split, SyntheticDataset, TrainAugment,
    Transform,
};
use crate::error::Error;
use crate::eval::heatmap::overlay;
use crate::eval::protocol::{mean, top_k};
use crate::eval::{default_scales, evaluate_image, Protocol, TestModel};
use crate::gpu::AdapterChoice;
use crate::graph::{Network, ParamSet, TrainPlan};
use crate::kernels::GpuContext;
use crate::model::{Config, ModelMeta, ModelSpec, WeightFile};
use crate::shape::SgdHyper;
use crate::train::init::{random_weights, Init};

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// Milliseconds from the page's clock (`std::time::Instant` panics on wasm32).
fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

fn js_error(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

/// The browser's WebGPU device.
#[wasm_bindgen]
pub struct Gpu {
    ctx: Rc<GpuContext>,
}

#[wasm_bindgen]
impl Gpu {
    /// Opens the browser's WebGPU adapter with all of its limits.
    pub async fn open() -> Result<Gpu, JsError> {
        let choice = AdapterChoice {
            backend: Some("webgpu".into()),
            name_contains: None,
        };
        let ctx = GpuContext::new(&choice).await.map_err(js_error)?;
        Ok(Gpu { ctx: Rc::new(ctx) })
    }

    /// "name (backend, device type)", the storage binding limit and the conv tile
    /// height. Browsers may leave the name empty (Chromium's SwiftShader does).
    pub fn describe(&self) -> String {
        let limit = self.ctx.binding_limit as f64 / (1 << 20) as f64;
        let info = &self.ctx.adapter_info;
        let name = match (info.name.is_empty(), info.device_type) {
            (false, _) => self.ctx.describe(),
            (true, wgpu::DeviceType::Cpu) => {
                "the browser's fallback CPU adapter (SwiftShader in Chromium)".to_string()
            }
            (true, _) => "an unnamed adapter".to_string(),
        };
        let rows = match self.ctx.settings.conv_tile_rows {
            1 => "1 row".to_string(),
            n => format!("{n} rows"),
        };
        format!("{name}; tensors split at {limit:.0} MiB; conv tiles of {rows}")
    }

    /// A classifier for the safetensors bytes of any weight file the CLI reads.
    /// `origin` names the file in error messages.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&self, bytes: &[u8], origin: &str) -> Result<Classifier, JsError> {
        let weights = WeightFile::from_bytes(bytes, origin).map_err(js_error)?;
        Classifier::new(self.ctx.clone(), &weights, origin)
    }

    /// A fresh small VGG (configuration A, widths ÷8, 32×32 input: `vgg-wgpu train`'s
    /// default network) ready to train on `images` images of the built-in data set
    /// (the CLI's default: 5000), `batch` images per step, at a constant learning rate
    /// `lr`.
    pub async fn trainer(
        &self,
        images: usize,
        batch: usize,
        lr: f32,
        seed: u32,
    ) -> Result<Trainer, JsError> {
        Trainer::new(self.ctx.clone(), images, batch, lr, seed)
            .await
            .map_err(js_error)
    }
}

/// The built-in data set's validation image `index` at `size`×`size` pixels, as PNG
/// bytes: a picture of one of the ten classes the bundled model knows.
#[wasm_bindgen(js_name = samplePng)]
pub fn sample_png(index: usize, size: u32) -> Result<Vec<u8>, JsError> {
    let set = SyntheticDataset::new(0, Split::Val, index + 1, size).map_err(js_error)?;
    let image = set.image(index).map_err(js_error)?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| JsError::new(&format!("cannot encode the sample: {e}")))?;
    Ok(png)
}

/// The class names of the built-in data set (label order).
#[wasm_bindgen(js_name = builtinClasses)]
pub fn builtin_classes() -> Vec<String> {
    crate::data::synthetic::CLASS_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A network under test with the classify command's protocol.
#[wasm_bindgen]
pub struct Classifier {
    ctx: Rc<GpuContext>,
    model: TestModel,
    protocol: Protocol,
}

/// The largest side of the heat map image handed back to the page.
const HEATMAP_SIDE: u32 = 512;

impl Classifier {
    fn new(ctx: Rc<GpuContext>, weights: &WeightFile, origin: &str) -> Result<Classifier, JsError> {
        let model = TestModel::new(&ctx, weights, origin).map_err(js_error)?;
        let protocol = Protocol {
            scales: default_scales(model.meta.train_scale, model.spec.input_size as u32),
            dense: true,
            multi_crop: false,
            flip: true,
        };
        Ok(Classifier {
            ctx,
            model,
            protocol,
        })
    }

    async fn run(&mut self, image: RgbImage, top: usize) -> Result<Classification, Error> {
        let start = now_ms();
        let p = evaluate_image(&self.ctx, &mut self.model, &image, &self.protocol).await?;
        let probabilities = mean(&p.dense);
        let classes = top_k(&probabilities, top);
        let seconds = (now_ms() - start) / 1000.0;

        // The score map of the largest scale (the finest), left in the dense plan of
        // that size by its last run: the image itself is the first of its batch.
        let q = self.protocol.scales.iter().copied().max().unwrap_or(0);
        let (width, height) = rescaled_size(image.width(), image.height(), q);
        let batch = 1 + self.protocol.flip as usize;
        let plan = self
            .model
            .dense_plan(&self.ctx, batch, height as usize, width as usize)
            .await?;
        let map = plan.score_map(&self.ctx).await?;
        let (h, w) = (plan.map_shape.height, plan.map_shape.width);
        let plane = &map[classes[0] * h * w..][..h * w];
        let shown = shrink(&image, HEATMAP_SIDE);
        let heat = overlay(&shown, plane, h, w);
        let heatmap = image::DynamicImage::ImageRgb8(heat).to_rgba8();
        Ok(Classification {
            names: classes
                .iter()
                .map(|&c| self.model.meta.class_names[c].clone())
                .collect(),
            classes: classes.iter().map(|&c| c as u32).collect(),
            probabilities,
            seconds,
            width: heatmap.width(),
            height: heatmap.height(),
            heatmap: heatmap.into_raw(),
            map_width: w as u32,
            map_height: h as u32,
        })
    }
}

/// `image` scaled down so its longer side is at most `side` (never up).
fn shrink(image: &RgbImage, side: u32) -> RgbImage {
    let longer = image.width().max(image.height());
    if longer <= side {
        return image.clone();
    }
    let scale = side as f64 / longer as f64;
    let w = ((image.width() as f64 * scale).round() as u32).max(1);
    let h = ((image.height() as f64 * scale).round() as u32).max(1);
    image::imageops::resize(image, w, h, image::imageops::FilterType::Triangle)
}

#[wasm_bindgen]
impl Classifier {
    /// "VGG-A, widths ÷8, 32×32 input, 10 classes, test scales 32,36,68"; the classes
    /// are said to be ImageNet's when that is assumed for a file without metadata.
    pub fn describe(&self) -> String {
        let s = &self.model.spec;
        let scales: Vec<String> = self.protocol.scales.iter().map(u32::to_string).collect();
        let names = match self.model.imagenet_names_assumed() {
            true => " (ImageNet's, assumed: the file names none)",
            false => "",
        };
        format!(
            "VGG-{}, widths ÷{}, {}×{} input, {} classes{names}, {} parameters; dense evaluation with flips at Q = {}",
            s.config,
            s.width_divisor,
            s.input_size,
            s.input_size,
            s.classes,
            s.parameter_count(),
            scales.join(", ")
        )
    }

    /// Classifies a JPEG or PNG file's bytes (decoded as the CLI decodes them).
    pub async fn classify(
        &mut self,
        bytes: Vec<u8>,
        top: usize,
    ) -> Result<Classification, JsError> {
        let image = decode(&bytes).map_err(|m| JsError::new(&m))?;
        self.run(image, top).await.map_err(js_error)
    }

    /// Classifies an image the browser decoded: `rgba` is (height, width, 4) bytes
    /// (canvas `ImageData`); alpha is ignored. For formats the CLI does not read.
    #[wasm_bindgen(js_name = classifyRgba)]
    pub async fn classify_rgba(
        &mut self,
        width: u32,
        height: u32,
        rgba: Vec<u8>,
        top: usize,
    ) -> Result<Classification, JsError> {
        if rgba.len() != width as usize * height as usize * 4 {
            return Err(JsError::new(&format!(
                "{} RGBA bytes do not make a {width}×{height} image",
                rgba.len()
            )));
        }
        let rgb = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let image = RgbImage::from_raw(width, height, rgb)
            .ok_or_else(|| JsError::new("the image has no pixels"))?;
        self.run(image, top).await.map_err(js_error)
    }
}

/// What one classification found.
#[wasm_bindgen(getter_with_clone)]
pub struct Classification {
    /// The top classes, most probable first.
    pub classes: Vec<u32>,
    pub names: Vec<String>,
    /// The posterior over every class (mean over scales of dense + flip).
    pub probabilities: Vec<f32>,
    /// Time of the evaluation alone (not decoding nor the heat map).
    pub seconds: f64,
    /// The image (shrunk to at most 512 pixels) with the top class's score map over
    /// it: (height, width, 4) RGBA bytes.
    pub heatmap: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Cells of the score map drawn (the finest scale's): 1×1 draws one colour.
    pub map_width: u32,
    pub map_height: u32,
}

/// Training of `vgg-wgpu train`'s default network on the built-in data set, driven one
/// step at a time by the page. Same data, augmentation, initialisation and SGD as the
/// CLI; the learning rate is constant (no validation-driven schedule in the page).
#[wasm_bindgen]
pub struct Trainer {
    ctx: Rc<GpuContext>,
    plan: TrainPlan,
    meta: ModelMeta,
    loader: Loader,
    batches: Batches,
    hyper: SgdHyper,
    seed: u32,
    epoch: u64,
    step: u64,
}

impl Trainer {
    async fn new(
        ctx: Rc<GpuContext>,
        images: usize,
        batch: usize,
        lr: f32,
        seed: u32,
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
        let batches = loader.epoch(0, 0)?;
        let weights = random_weights(&spec, &Init::Glorot, seed as u64);
        let params = ParamSet::upload(&ctx, &spec, &weights, "initial weights")?;
        let plan = TrainPlan::new(&ctx, &Network::new(&spec, 0.5), params, batch, 1, 1).await?;
        Ok(Trainer {
            ctx,
            plan,
            meta,
            loader,
            batches,
            hyper: SgdHyper {
                lr,
                momentum: 0.9,
                weight_decay: 5e-4,
                grad_scale: 1.0,
            },
            seed,
            epoch: 0,
            step: 0,
        })
    }

    async fn next_step(&mut self) -> crate::Result<StepReport> {
        let start = now_ms();
        let batch = match self.batches.next() {
            Some(batch) => batch?,
            None => {
                self.epoch += 1;
                self.batches = self.loader.epoch(self.epoch, 0)?;
                self.batches.next().ok_or_else(|| Error::InvalidArgument {
                    op: "training",
                    message: "the data set makes no full batch".into(),
                })??
            }
        };
        let stats = self
            .plan
            .step(
                &self.ctx,
                &batch.images,
                &batch.labels,
                &self.hyper,
                self.seed,
                self.step as u32,
            )
            .await?;
        self.step += 1;
        let seconds = (now_ms() - start) / 1000.0;
        Ok(StepReport {
            step: self.step as u32,
            epoch: self.epoch as u32,
            batch: batch.index as u32,
            loss: stats.mean_loss(),
            accuracy: stats.top1_hits / stats.samples.max(1) as f64,
            images_per_s: stats.samples as f64 / seconds.max(1e-9),
        })
    }

    async fn weight_file(&self) -> crate::Result<WeightFile> {
        let mut weights = self.plan.params.download(&self.ctx).await?;
        self.meta.write(&mut weights);
        Ok(weights)
    }
}

#[wasm_bindgen]
impl Trainer {
    /// One SGD step on the next batch of the epoch (a new epoch after the last one).
    pub async fn step(&mut self) -> Result<StepReport, JsError> {
        self.next_step().await.map_err(js_error)
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> usize {
        self.loader.batches_per_epoch()
    }

    /// Changes the learning rate from the next step on.
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.hyper.lr = lr;
    }

    /// A classifier with the weights as they are now.
    pub async fn classifier(&self) -> Result<Classifier, JsError> {
        let weights = self.weight_file().await.map_err(js_error)?;
        Classifier::new(
            self.ctx.clone(),
            &weights,
            "the network trained in this tab",
        )
    }

    /// The weights as they are now, as a safetensors file the CLI reads.
    pub async fn safetensors(&self) -> Result<Vec<u8>, JsError> {
        let weights = self.weight_file().await.map_err(js_error)?;
        weights.to_bytes().map_err(js_error)
    }
}

/// What one training step measured.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct StepReport {
    /// Steps done so far, this one included.
    pub step: u32,
    pub epoch: u32,
    /// This step's batch within its epoch.
    pub batch: u32,
    /// Mean cross-entropy of the batch (before the update).
    pub loss: f64,
    /// Top-1 accuracy on the batch (augmented, dropout on).
    pub accuracy: f64,
    /// Images per second of this step, batch preparation on the CPU included.
    pub images_per_s: f64,
}
