//! A network under test: its weights on the GPU, what it is (from the file's metadata,
//! or inferred for torchvision-layout files), and its plans, each compiled the first
//! time an input shape needs it and reused after.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::gpu::Storage;
use crate::graph::{DenseOutput, DensePlan, EvalPlan, Network, ParamSet};
use crate::kernels::GpuContext;
use crate::model::{describe, imagenet, ModelMeta, ModelSpec, WeightFile};

/// Dense plans kept per model. Each holds activations for one image size (hundreds of MB
/// for VGG-16 at the paper's scales), and a folder of photos or a test set has many
/// sizes: keeping every plan grew GPU memory with each new size. Three scales of the
/// paper's protocol and the heat map's plan fit, so images of one size reuse theirs.
pub const DENSE_PLANS_KEPT: usize = 4;

pub struct TestModel {
    pub spec: ModelSpec,
    pub meta: ModelMeta,
    /// The file had no metadata: `meta` is torchvision's conventions, not the truth.
    pub guessed: bool,
    /// The file it came from, for messages.
    pub origin: String,
    net: Network,
    params: ParamSet,
    /// Dense plans by (batch, height, width), at most [`DENSE_PLANS_KEPT`].
    dense: HashMap<(usize, usize, usize), DensePlan>,
    /// Their keys, least recently used first.
    dense_use: Vec<(usize, usize, usize)>,
    /// Plain-forward plans (multi-crop) by batch size.
    crops: HashMap<usize, EvalPlan>,
}

impl TestModel {
    /// The network of `weights` on the GPU, its weights (not biases) stored as
    /// `storage` (F16: half the memory, computed in f32).
    pub fn new(
        ctx: &GpuContext,
        weights: &WeightFile,
        origin: &str,
        storage: Storage,
    ) -> Result<TestModel> {
        let described = describe(weights, origin)?;
        let spec = described.spec;
        let params = ParamSet::upload_stored(ctx, &spec, weights, origin, storage)?;
        Ok(TestModel {
            net: Network::new(&spec, 0.0),
            spec,
            meta: described.meta,
            guessed: described.guessed,
            origin: origin.to_string(),
            params,
            dense: HashMap::new(),
            dense_use: Vec::new(),
            crops: HashMap::new(),
        })
    }

    /// The network `spec` of `params` already on the GPU (a taught network whose
    /// frozen layers share another's tensors), described by `meta`.
    pub fn from_params(
        spec: ModelSpec,
        meta: ModelMeta,
        origin: &str,
        params: ParamSet,
    ) -> TestModel {
        TestModel {
            net: Network::new(&spec, 0.0),
            spec,
            meta,
            guessed: false,
            origin: origin.to_string(),
            params,
            dense: HashMap::new(),
            dense_use: Vec::new(),
            crops: HashMap::new(),
        }
    }

    /// Its plain network and its parameters on the GPU (shared, not copied): what runs
    /// its frozen layers while new classes are taught.
    pub fn network(&self) -> (Network, ParamSet) {
        (self.net.clone(), self.params.clone())
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(ctx: &GpuContext, path: &std::path::Path, storage: Storage) -> Result<TestModel> {
        Self::new(
            ctx,
            &WeightFile::load(path)?,
            &path.display().to_string(),
            storage,
        )
    }

    /// Its class names are ImageNet's by assumption: the file names none of its 1000
    /// classes.
    pub fn imagenet_names_assumed(&self) -> bool {
        self.guessed && self.spec.classes == imagenet::CLASSES
    }

    /// The most pixels an input image may have on this adapter: one image's largest
    /// dense activation must fit one storage binding (a tensor splits between images,
    /// never within one). The largest is the first block's, full resolution and widest
    /// relative to it.
    pub fn max_input_pixels(&self, ctx: &GpuContext) -> u64 {
        let input = self.spec.input_size as u64;
        self.spec
            .conv_layers()
            .iter()
            .map(|l| {
                // Bytes per input pixel = 4 · channels · (size / input)².
                let per_pixel_scaled = 4 * l.out_channels as u64 * (l.size as u64).pow(2);
                ctx.binding_limit * input * input / per_pixel_scaled.max(1)
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Checks, before anything is allocated, that a `width`×`height` image rescaled to
    /// smallest side `q` fits this adapter (see [`Self::max_input_pixels`]). The
    /// arithmetic is in u64: a huge Q would wrap the u32 sizes the rescale uses.
    pub fn check_input_size(
        &self,
        ctx: &GpuContext,
        (width, height): (u32, u32),
        q: u32,
    ) -> Result<()> {
        let (short, long) = (width.min(height).max(1) as u64, width.max(height) as u64);
        let long = (long * q as u64 + short / 2) / short;
        let (w, h) = if width > height {
            (long, q as u64)
        } else {
            (q as u64, long)
        };
        match self.oversize(ctx, w.saturating_mul(h)) {
            None => Ok(()),
            Some(why) => Err(Error::Shape {
                op: "test image",
                message: format!(
                    "a {width}×{height} image at Q={q} becomes {w}×{h} pixels, too large for this adapter: {why}"
                ),
            }),
        }
    }

    /// Checks each test scale against the adapter: the smallest image at Q is Q×Q.
    pub fn check_scales_fit(&self, ctx: &GpuContext, scales: &[u32]) -> Result<()> {
        for &q in scales {
            if let Some(why) = self.oversize(ctx, q as u64 * q as u64) {
                return Err(Error::InvalidArgument {
                    op: "test scales",
                    message: format!(
                        "Q={q} is too large for '{}' on this adapter even for a square image: {why}",
                        self.origin
                    ),
                });
            }
        }
        Ok(())
    }

    /// Why an input of `pixels` pixels does not fit, naming the limit; None when it does.
    fn oversize(&self, ctx: &GpuContext, pixels: u64) -> Option<String> {
        let max = self.max_input_pixels(ctx);
        if pixels <= max {
            return None;
        }
        let first = self.spec.conv_layers()[0].out_channels as u64;
        Some(format!(
            "one image's first conv activation ({first} channels) would take {}, over the storage binding limit of {} (max_storage_buffer_binding_size); at most {max} pixels fit (a square of side {}): give smaller --scales, or crop or shrink the image",
            bytes_text(pixels.saturating_mul(4 * first)),
            bytes_text(ctx.binding_limit),
            (max as f64).sqrt() as u64
        ))
    }

    /// Its weights as they are on the GPU, with its metadata: a file the CLI reads.
    pub async fn weight_file(&self, ctx: &GpuContext) -> Result<WeightFile> {
        let mut weights = self.params.download(ctx).await?;
        self.meta.write(&mut weights);
        Ok(weights)
    }

    /// The dense plan for images (batch, 3, height, width), compiled on first use and
    /// kept while it is among the [`DENSE_PLANS_KEPT`] most recently used.
    pub async fn dense_plan(
        &mut self,
        ctx: &GpuContext,
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<&DensePlan> {
        let key = (batch, height, width);
        self.dense_use.retain(|&k| k != key);
        if !self.dense.contains_key(&key) {
            if self.dense.len() >= DENSE_PLANS_KEPT {
                // Free the oldest plan's activations before allocating the new ones.
                let oldest = self.dense_use.remove(0);
                self.dense.remove(&oldest);
            }
            let plan = DensePlan::new(ctx, &self.net, &self.params, batch, height, width).await?;
            self.dense.insert(key, plan);
        }
        self.dense_use.push(key);
        Ok(&self.dense[&key])
    }

    /// How many dense plans are held now (at most [`DENSE_PLANS_KEPT`]).
    pub fn dense_plans_held(&self) -> usize {
        self.dense.len()
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
        self.dense_plan(ctx, batch, height, width)
            .await?
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
            let plan = EvalPlan::new(ctx, &self.net, &self.params, count).await?;
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

/// A byte count for people: "512 MiB", "27.9 GiB".
fn bytes_text(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mib = bytes as f64 / MIB;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}
