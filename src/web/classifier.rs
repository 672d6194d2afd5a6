//! A weight file classifying images with the `classify` command's protocol: on the GPU,
//! or with the CPU engine where the adapter itself is a CPU.

use std::rc::Rc;

use image::RgbImage;
use wasm_bindgen::prelude::*;

use super::pause::BrowserPause;
use super::{js_error, now_ms, rgb_from_rgba, Teacher};
use crate::cpu_engine::CpuModel;
use crate::data::augment::rescaled_size;
use crate::data::image_folder::decode;
use crate::error::Error;
use crate::eval::heatmap::overlay;
use crate::eval::protocol::{mean, top_k};
use crate::eval::{default_scales, evaluate_image, Protocol, TestModel};
use crate::gpu::Storage;
use crate::kernels::GpuContext;
use crate::model::{imagenet, ModelMeta, ModelSpec, WeightFile};

/// A network under test, with the paper's protocol (what `vgg-wgpu classify` does) or
/// the quick one.
#[wasm_bindgen]
pub struct Classifier {
    ctx: Rc<GpuContext>,
    model: Model,
    protocol: Protocol,
}

/// Where a classifier's network computes.
pub(super) enum Model {
    /// On the GPU, by WebGPU.
    Gpu(TestModel),
    /// In the page's wasm, by the CPU engine: on an adapter that is a CPU (the
    /// browser's SwiftShader), 5–7× faster than WebGPU on it (BENCHMARKS.md).
    Cpu(CpuModel),
}

impl Model {
    pub(super) fn spec(&self) -> &ModelSpec {
        match self {
            Model::Gpu(m) => &m.spec,
            Model::Cpu(m) => &m.spec,
        }
    }

    pub(super) fn meta(&self) -> &ModelMeta {
        match self {
            Model::Gpu(m) => &m.meta,
            Model::Cpu(m) => &m.meta,
        }
    }

    /// Its class names are ImageNet's by assumption: the file names none of its 1000
    /// classes.
    fn imagenet_names_assumed(&self) -> bool {
        let guessed = match self {
            Model::Gpu(m) => m.guessed,
            Model::Cpu(m) => m.guessed,
        };
        guessed && self.spec().classes == imagenet::CLASSES
    }

    pub(super) fn origin(&self) -> &str {
        match self {
            Model::Gpu(m) => &m.origin,
            Model::Cpu(m) => &m.origin,
        }
    }
}

/// Whether models classify on the CPU engine: on adapters that are CPUs, unless `choice`
/// ("gpu" or "cpu", the page's `?engine=`) says otherwise.
pub(super) fn on_cpu(ctx: &GpuContext, choice: Option<&str>) -> Result<bool, JsError> {
    match choice {
        None | Some("") => Ok(ctx.adapter_info.device_type == wgpu::DeviceType::Cpu),
        Some("cpu") => Ok(true),
        Some("gpu") => Ok(false),
        Some(other) => Err(JsError::new(&format!(
            "engine '{other}' is not known: give 'gpu' or 'cpu', or nothing to let the adapter decide"
        ))),
    }
}

/// The largest side of the heat map image handed back to the page.
const HEATMAP_SIDE: u32 = 512;

/// The paper's dense protocol: the model's three test scales, each with its flip.
fn paper_protocol(model: &Model) -> Protocol {
    Protocol {
        scales: default_scales(model.meta().train_scale, model.spec().input_size as u32),
        dense: true,
        multi_crop: false,
        flip: true,
    }
}

/// The quick protocol: one dense pass at the smallest of the paper's scales, no flip
/// (for a 224-input VGG trained at S = 256, one pass at Q = 224).
fn quick_protocol(model: &Model) -> Protocol {
    let paper = paper_protocol(model);
    Protocol {
        scales: paper.scales[..1].to_vec(),
        flip: false,
        ..paper
    }
}

/// The work of `protocol` on an image of `(width, height)`, in passes of the network over
/// an image of its input size: pixels through the network, flips counted.
fn protocol_passes(model: &Model, protocol: &Protocol, (width, height): (u32, u32)) -> f64 {
    let input = model.spec().input_size as f64;
    let copies = 1.0 + protocol.flip as u8 as f64;
    protocol
        .scales
        .iter()
        .map(|&q| {
            let (w, h) = rescaled_size(width.max(1), height.max(1), q);
            copies * w as f64 * h as f64 / (input * input)
        })
        .sum()
}

impl Classifier {
    /// A classifier of `weights` on the GPU, its weights stored as `storage`, or on the
    /// CPU (`cpu`), its weights rounded to halves for F16 storage.
    pub(super) fn new(
        ctx: Rc<GpuContext>,
        weights: WeightFile,
        origin: &str,
        storage: Storage,
        cpu: bool,
    ) -> Result<Classifier, JsError> {
        let model = match cpu {
            true => CpuModel::new(weights, origin, storage == Storage::F16).map(Model::Cpu),
            false => TestModel::new(&ctx, &weights, origin, storage).map(Model::Gpu),
        }
        .map_err(js_error)?;
        Ok(Classifier::of(ctx, model))
    }

    /// A classifier of `model`, with the paper's protocol.
    pub(super) fn of(ctx: Rc<GpuContext>, model: Model) -> Classifier {
        Classifier {
            ctx,
            protocol: paper_protocol(&model),
            model,
        }
    }

    /// Evaluates one scale at a time, calling `progress(passes done, passes)` after
    /// each, then draws the heat map.
    async fn run(
        &mut self,
        image: RgbImage,
        top: usize,
        progress: Option<js_sys::Function>,
    ) -> Result<Classification, Error> {
        let start = now_ms();
        let scales = self.protocol.scales.clone();
        let finest = scales.iter().copied().max().unwrap_or(0);
        let mut per_scale = Vec::with_capacity(scales.len());
        let mut cpu_map = None;
        for (done, &q) in (1..).zip(&scales) {
            match &mut self.model {
                Model::Gpu(model) => {
                    let one = Protocol {
                        scales: vec![q],
                        ..self.protocol.clone()
                    };
                    let p = evaluate_image(&self.ctx, model, &image, &one).await?;
                    per_scale.extend(p.dense);
                }
                Model::Cpu(model) => {
                    let mut pause = BrowserPause::new();
                    let flip = self.protocol.flip;
                    let (p, dense) = model.dense_image(&image, q, flip, &mut pause).await?;
                    per_scale.push(p);
                    if q == finest {
                        cpu_map = Some((dense.map, dense.map_shape));
                    }
                }
            }
            if let Some(f) = &progress {
                // A throwing callback must not stop the classification.
                let _ = f.call2(&JsValue::NULL, &done.into(), &scales.len().into());
            }
        }
        let passes = protocol_passes(&self.model, &self.protocol, image.dimensions());
        let probabilities = mean(&per_scale);
        let classes = top_k(&probabilities, top);
        let seconds = (now_ms() - start) / 1000.0;

        // The score map of the largest scale (the finest); the image itself is the
        // first of its batch. On the GPU the dense plan of that size still holds it.
        let (map, map_shape) = match (&mut self.model, cpu_map) {
            (Model::Cpu(_), Some(kept)) => kept,
            (Model::Gpu(model), _) => {
                let (width, height) = rescaled_size(image.width(), image.height(), finest);
                let batch = 1 + self.protocol.flip as usize;
                let plan = model
                    .dense_plan(&self.ctx, batch, height as usize, width as usize)
                    .await?;
                (plan.score_map(&self.ctx).await?, plan.map_shape)
            }
            (Model::Cpu(_), None) => unreachable!("the finest scale was among the scales"),
        };
        let (h, w) = (map_shape.height, map_shape.width);
        let plane = &map[classes[0] * h * w..][..h * w];
        let shown = shrink(&image, HEATMAP_SIDE);
        let heat = overlay(&shown, plane, h, w);
        let heatmap = image::DynamicImage::ImageRgb8(heat).to_rgba8();
        Ok(Classification {
            names: classes
                .iter()
                .map(|&c| self.model.meta().class_names[c].clone())
                .collect(),
            classes: classes.iter().map(|&c| c as u32).collect(),
            probabilities,
            seconds,
            passes,
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
    /// "VGG-A, widths ÷8, 32×32 input, 10 classes, 1234 parameters"; the classes are
    /// said to be ImageNet's when that is assumed for a file without metadata.
    pub fn describe(&self) -> String {
        let s = self.model.spec();
        let names = match self.model.imagenet_names_assumed() {
            true => " (ImageNet's, assumed: the file names none)",
            false => "",
        };
        format!(
            "VGG-{}, widths ÷{}, {}×{} input, {} classes{names}, {} parameters",
            s.config,
            s.width_divisor,
            s.input_size,
            s.input_size,
            s.classes,
            s.parameter_count(),
        )
    }

    /// The side of the network's input (its training crop), in pixels.
    #[wasm_bindgen(getter, js_name = inputSize)]
    pub fn input_size(&self) -> u32 {
        self.model.spec().input_size as u32
    }

    /// Where it computes: "WebGPU" or "the CPU engine (wasm, one thread)".
    #[wasm_bindgen(getter)]
    pub fn engine(&self) -> String {
        match self.model {
            Model::Gpu(_) => "WebGPU".into(),
            Model::Cpu(_) => "the CPU engine (wasm, one thread)".into(),
        }
    }

    /// Whether classifications use the quick protocol (else the paper's).
    #[wasm_bindgen(getter)]
    pub fn quick(&self) -> bool {
        self.protocol == quick_protocol(&self.model)
    }

    /// Chooses the quick protocol or the paper's for the next classifications.
    #[wasm_bindgen(setter)]
    pub fn set_quick(&mut self, quick: bool) {
        self.protocol = match quick {
            true => quick_protocol(&self.model),
            false => paper_protocol(&self.model),
        };
    }

    /// What the quick protocol or the paper's does with this model: "dense with flips
    /// at Q = 224, 256, 288".
    #[wasm_bindgen(js_name = protocolText)]
    pub fn protocol_text(&self, quick: bool) -> String {
        let p = match quick {
            true => quick_protocol(&self.model),
            false => paper_protocol(&self.model),
        };
        let scales: Vec<String> = p.scales.iter().map(u32::to_string).collect();
        let flips = if p.flip { " with flips" } else { "" };
        format!("dense{flips} at Q = {}", scales.join(", "))
    }

    /// The work of classifying a `width`×`height` image with the quick protocol or the
    /// paper's, in passes of the network over an image of its input size.
    pub fn passes(&self, width: u32, height: u32, quick: bool) -> f64 {
        let p = match quick {
            true => quick_protocol(&self.model),
            false => paper_protocol(&self.model),
        };
        protocol_passes(&self.model, &p, (width, height))
    }

    /// Classifies a JPEG or PNG file's bytes (decoded as the CLI decodes them),
    /// calling `progress(scales done, scales)` after each test scale.
    pub async fn classify(
        &mut self,
        bytes: Vec<u8>,
        top: usize,
        progress: Option<js_sys::Function>,
    ) -> Result<Classification, JsError> {
        let image = decode(&bytes).map_err(|m| JsError::new(&m))?;
        self.run(image, top, progress).await.map_err(js_error)
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
        progress: Option<js_sys::Function>,
    ) -> Result<Classification, JsError> {
        let image = rgb_from_rgba(width, height, &rgba)?;
        self.run(image, top, progress).await.map_err(js_error)
    }

    /// A teacher of new classes, starting from this network: examples added to it run
    /// through this network's frozen layers where this classifier computes (the CPU
    /// engine or WebGPU), sharing its weights (nothing is copied).
    pub fn teacher(&self) -> Result<Teacher, JsError> {
        Teacher::new(self.ctx.clone(), &self.model).map_err(js_error)
    }
}

/// What one classification found.
#[wasm_bindgen(getter_with_clone)]
pub struct Classification {
    /// The top classes, most probable first.
    pub classes: Vec<u32>,
    pub names: Vec<String>,
    /// The posterior over every class (mean over the scales of dense evaluation, with
    /// its flip in the paper's protocol).
    pub probabilities: Vec<f32>,
    /// Time of the evaluation alone (not decoding nor the heat map).
    pub seconds: f64,
    /// The work it took, in passes of the network over an image of its input size.
    pub passes: f64,
    /// The image (shrunk to at most 512 pixels) with the top class's score map over
    /// it: (height, width, 4) RGBA bytes.
    pub heatmap: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Cells of the score map drawn (the finest scale's): 1×1 draws one colour.
    pub map_width: u32,
    pub map_height: u32,
}
