//! A weight file on the GPU, classifying images with the `classify` command's protocol.

use std::rc::Rc;

use image::RgbImage;
use wasm_bindgen::prelude::*;

use super::{js_error, now_ms};
use crate::data::augment::rescaled_size;
use crate::data::image_folder::decode;
use crate::error::Error;
use crate::eval::heatmap::overlay;
use crate::eval::protocol::{mean, top_k};
use crate::eval::{default_scales, evaluate_image, Protocol, TestModel};
use crate::kernels::GpuContext;
use crate::model::WeightFile;

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
    pub(super) fn new(
        ctx: Rc<GpuContext>,
        weights: &WeightFile,
        origin: &str,
    ) -> Result<Classifier, JsError> {
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
