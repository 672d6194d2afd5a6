//! The browser API (wasm32 only), bound with wasm-bindgen and driven by `web/app.js`.
//!
//! - [`Gpu`]: the browser's WebGPU adapter opened with its real limits.
//! - [`Classifier`]: a weight file on the GPU; an image in, the paper's dense
//!   evaluation with flips over the model's test scales out (what `vgg-wgpu classify`
//!   does) or the quick protocol's one pass, plus the top class's score map drawn over
//!   the image.
//! - [`Trainer`]: the CLI's default small VGG trained on the built-in data set, one
//!   SGD step per call, so the page stays responsive and can pause between steps.
//! - [`Teacher`]: a loaded model taught the user's own classes from examples added
//!   in the page (webcam frames, files), one SGD step per call as well.
//!
//! Every GPU readback is `map_async` awaited through a channel: nothing here blocks the
//! browser's main thread.

mod classifier;
mod pause;
mod teacher;
mod trainer;
mod training;

use std::rc::Rc;

use image::{ImageFormat, RgbImage};
use wasm_bindgen::prelude::*;

use crate::data::{Dataset, Split, SyntheticDataset};
use crate::error::Error;
use crate::gpu::{AdapterChoice, Storage};
use crate::kernels::GpuContext;
use crate::model::weight_reader::WeightReader;

pub use classifier::{Classification, Classifier};
pub use teacher::Teacher;
pub use trainer::Trainer;
pub use training::StepReport;

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

/// An image the browser decoded: `rgba` is (height, width, 4) bytes (canvas
/// `ImageData`); alpha is ignored.
fn rgb_from_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<RgbImage, JsError> {
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
    RgbImage::from_raw(width, height, rgb).ok_or_else(|| JsError::new("the image has no pixels"))
}

/// A weight file read as it downloads, chunk by chunk: each tensor's values are
/// converted as their bytes arrive, so neither the page nor the engine ever holds the
/// raw file whole (VGG-16's is 528 MiB), only the values.
#[wasm_bindgen]
pub struct ModelBytes {
    reader: WeightReader,
    length: usize,
}

#[wasm_bindgen]
impl ModelBytes {
    /// A file to be read; `origin` names it in error messages.
    #[wasm_bindgen(constructor)]
    pub fn new(origin: &str) -> ModelBytes {
        ModelBytes {
            reader: WeightReader::new(origin),
            length: 0,
        }
    }

    /// The next bytes of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        self.length += chunk.len();
        self.reader.push(chunk).map_err(js_error)
    }

    /// Bytes pushed so far.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.length
    }
}

/// The browser's WebGPU device, and where the models of this page classify.
#[wasm_bindgen]
pub struct Gpu {
    ctx: Rc<GpuContext>,
    /// Models classify on the CPU engine (else on the GPU).
    classify_on_cpu: bool,
}

#[wasm_bindgen]
impl Gpu {
    /// Opens the browser's WebGPU adapter with all of its limits. `engine` ("gpu",
    /// "cpu", or nothing: the page's `?engine=`) chooses where every model of the page
    /// classifies: by default on the CPU engine when the adapter is a CPU.
    pub async fn open(engine: Option<String>) -> Result<Gpu, JsError> {
        let choice = AdapterChoice {
            backend: Some("webgpu".into()),
            name_contains: None,
        };
        let ctx = GpuContext::new(&choice).await.map_err(js_error)?;
        let classify_on_cpu = classifier::on_cpu(&ctx, engine.as_deref())?;
        Ok(Gpu {
            ctx: Rc::new(ctx),
            classify_on_cpu,
        })
    }

    /// "name (backend, device type)", the storage binding limit, the conv kernel the
    /// engine chose for it, and whether models classify on the CPU engine instead.
    /// Browsers may leave the name empty (Chromium's SwiftShader does).
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
        let settings = &self.ctx.settings;
        let conv = match (settings.subgroups, settings.conv_tile_rows) {
            (true, _) => "the subgroup kernel".to_string(),
            (false, _) if settings.conv_lanes => "the 4-lane kernel for SwiftShader".to_string(),
            (false, 1) => "the fallback kernel, tiles of 1 row".to_string(),
            (false, n) => format!("the fallback kernel, tiles of {n} rows"),
        };
        let classify = match classifier::on_cpu(&self.ctx, None) {
            Ok(true) => {
                "; models classify on the CPU engine (wasm), faster than WebGPU on a CPU adapter"
            }
            _ => "",
        };
        format!("{name}; tensors split at {limit:.0} MiB; convolutions by {conv}{classify}")
    }

    /// A classifier for a weight file the CLI reads, once all of its bytes were pushed.
    /// `origin` names the file in messages. With `f16`, the weights are rounded to IEEE
    /// halves, and on the GPU stored so (half the memory, computed in f32).
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(
        &self,
        file: ModelBytes,
        origin: &str,
        f16: bool,
    ) -> Result<Classifier, JsError> {
        let weights = file.reader.finish().map_err(js_error)?;
        let storage = if f16 { Storage::F16 } else { Storage::F32 };
        Classifier::new(
            self.ctx.clone(),
            weights,
            origin,
            storage,
            self.classify_on_cpu,
        )
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
        let cpu = self.classify_on_cpu;
        Trainer::new(self.ctx.clone(), images, batch, lr, seed, cpu)
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
