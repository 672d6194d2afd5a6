//! A network's dense evaluation on the CPU: what [`crate::graph::DensePlan`] computes on
//! the GPU, for one weight file held in memory.

use std::ops::Range;
use std::sync::Arc;

use image::RgbImage;

use super::dot::dot_rows_in_chunks;
use super::winograd::{chunk_tiles, conv3x3, Filters};
use super::Pause;
use crate::error::{Error, Result};
use crate::eval::input::Planes;
use crate::eval::protocol::{check_scales, mean_of_rows};
use crate::graph::ops::{Conv2d, Op, ReferencePass};
use crate::graph::{DenseOutput, Network};
use crate::model::{describe, ModelMeta, ModelSpec, WeightFile, IMAGE_CHANNELS};
use crate::oracle::score_map::{softmax, spatial_mean};
use crate::oracle::windows::{fold, unfold};
use crate::shape::{ConvShape, ScoreMapShape};

/// The largest activation a dense evaluation may allocate: the page's wasm memory holds
/// at most 4 GiB, the weights (553 MB for VGG-16) and two activations among them.
const MAX_ACTIVATION_BYTES: usize = 1 << 30;

/// Multiply-adds of a rows-times-weights product between pauses: about 10 ms in the
/// page (FC1 of VGG-16 on 18 rows of windows is 1.8 G).
const MULTIPLY_ADDS_PER_CHUNK: usize = 1 << 25;

/// A weight file's network, its parameters in memory. A clone shares them.
#[derive(Clone)]
pub struct CpuModel {
    pub spec: ModelSpec,
    pub meta: ModelMeta,
    /// The file had no metadata: `meta` is torchvision's conventions, not the truth.
    pub guessed: bool,
    /// The file it came from, for messages.
    pub origin: String,
    net: Network,
    /// In [`ModelSpec::parameters`] order; shared by clones and by the networks taught
    /// from this one ([`CpuModel::with_head`]), which change only their trained layers.
    params: Vec<Arc<Vec<f32>>>,
}

/// One dense evaluation: what the GPU's plan gives, and the class score map.
pub struct CpuDense {
    pub output: DenseOutput,
    /// (batch, classes, h', w')
    pub map: Vec<f32>,
    pub map_shape: ScoreMapShape,
}

impl CpuModel {
    /// The network of `weights`, whose tensors it takes over (a VGG-16 file is 553 MB:
    /// no copy). With `f16_weights`, the weights (not the biases) are rounded to the
    /// nearest IEEE half, as the GPU's f16 storage rounds them.
    pub fn new(mut weights: WeightFile, origin: &str, f16_weights: bool) -> Result<CpuModel> {
        let described = describe(&weights, origin)?;
        let spec = described.spec;
        let mut params = Vec::new();
        for info in spec.parameters() {
            let (_, mut values) =
                weights
                    .tensors
                    .remove(&info.name)
                    .ok_or_else(|| Error::WeightFile {
                        path: origin.to_string(),
                        message: format!("has no tensor '{}'", info.name),
                    })?;
            if f16_weights && !info.is_bias {
                values
                    .iter_mut()
                    .for_each(|v| *v = half::f16::from_f32(*v).to_f32());
            }
            params.push(Arc::new(values));
        }
        Ok(CpuModel {
            net: Network::new(&spec, 0.0),
            spec,
            meta: described.meta,
            guessed: described.guessed,
            origin: origin.to_string(),
            params,
        })
    }

    /// Its weights with its metadata: a file the CLI reads.
    pub fn weight_file(&self) -> WeightFile {
        let mut file = self.tensors_from(0);
        self.meta.write(&mut file);
        file
    }

    /// Copies of its tensors from parameter `first` on (no metadata).
    pub fn tensors_from(&self, first: usize) -> WeightFile {
        let mut file = WeightFile::default();
        let infos = self.spec.parameters().into_iter().zip(&self.params);
        for (info, values) in infos.skip(first) {
            file.tensors
                .insert(info.name, (info.shape, values.as_ref().clone()));
        }
        file
    }

    /// The same network with new trained layers: `spec` and `meta` (new classes,
    /// say) and `head`'s tensors for every parameter from index `first` on; the
    /// tensors before it are shared with this model, not copied.
    pub fn with_head(
        &self,
        spec: ModelSpec,
        meta: ModelMeta,
        origin: &str,
        mut head: WeightFile,
        first: usize,
    ) -> Result<CpuModel> {
        head.check_matches_from(&spec, origin, first)?;
        let mut params = self.params[..first].to_vec();
        for info in spec.parameters().split_off(first) {
            let (_, values) = head.tensors.remove(&info.name).expect("checked above");
            params.push(Arc::new(values));
        }
        Ok(CpuModel {
            net: Network::new(&spec, 0.0),
            spec,
            meta,
            guessed: false,
            origin: origin.to_string(),
            params,
        })
    }

    /// Ops `range` of the plain network (dropout left out) on `x`, the activation that
    /// feeds op `range.start` for `batch` images of the network's input size: what a
    /// frozen part computes for a [`crate::train::FeatureCache`].
    pub async fn run_part(
        &self,
        range: Range<usize>,
        x: &[f32],
        batch: usize,
        pause: &mut impl Pause,
    ) -> Result<Vec<f32>> {
        let part = self.net.part(range);
        let expected = batch * part.input.iter().product::<usize>();
        if x.len() != expected {
            return Err(Error::Shape {
                op: "the CPU engine",
                message: format!(
                    "a part's input of {batch} needs {expected} values, got {}",
                    x.len()
                ),
            });
        }
        let mut x = x.to_vec();
        for (i, op) in part.ops.iter().enumerate() {
            let plain_input = &part.activation_shape(i, 1)[1..];
            // At the network's input size, an FC layer's dense form (a convolution as
            // wide as its input) gives its plain output; features are 1×1 maps there.
            let input = match plain_input {
                &[features] => vec![features, 1, 1],
                maps => maps.to_vec(),
            };
            if let Some(op) = op.dense(plain_input, &input) {
                x = self.run_op(&op, &x, batch, pause).await;
            }
        }
        Ok(x)
    }

    /// Checks a dense evaluation's input before anything is allocated: both sides at
    /// least the network's input size, and no activation over [`MAX_ACTIVATION_BYTES`].
    pub fn check_input(&self, batch: usize, height: usize, width: usize) -> Result<()> {
        let op = "dense evaluation on the CPU";
        self.net.check_dense_input(op, batch, height, width)?;
        let sizes = self.net.dense_ops(height, width).into_iter().map(|o| {
            let shape = o.output(batch);
            shape
                .iter()
                .fold(4u64, |bytes, &d| bytes.saturating_mul(d as u64))
        });
        let bytes = sizes.max().unwrap_or(0);
        if bytes > MAX_ACTIVATION_BYTES as u64 {
            return Err(Error::Shape {
                op,
                message: format!(
                    "{batch} image(s) of {width}×{height} need an activation of {} MiB, over the {} MiB this engine allows: give smaller scales, or crop or shrink the image",
                    bytes >> 20,
                    MAX_ACTIVATION_BYTES >> 20
                ),
            });
        }
        Ok(())
    }

    /// Dense evaluation of `images` (batch, 3, height, width), both sides at least the
    /// network's input size.
    pub async fn dense(
        &self,
        images: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        pause: &mut impl Pause,
    ) -> Result<CpuDense> {
        self.check_input(batch, height, width)?;
        assert_eq!(images.len(), batch * IMAGE_CHANNELS * height * width);
        let ops = self.net.dense_ops(height, width);
        let mut x = images.to_vec();
        let mut fc2_map = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let y = self.run_op(op, &x, batch, pause).await;
            if i + 1 == ops.len() {
                fc2_map = x;
            }
            x = y;
        }
        let last = ops.last().expect("a network has ops").output(batch);
        let map_shape = ScoreMapShape {
            batch,
            classes: last[1],
            height: last[2],
            width: last[3],
        };
        let fc2_shape = ScoreMapShape {
            classes: fc2_map.len() / (batch * map_shape.height * map_shape.width),
            ..map_shape
        };
        let scores = spatial_mean(&map_shape, &x);
        Ok(CpuDense {
            output: DenseOutput {
                probabilities: softmax(map_shape.classes, &scores),
                scores,
                features: spatial_mean(&fc2_shape, &fc2_map),
            },
            map: x,
            map_shape,
        })
    }

    /// Dense evaluation of `image` rescaled to smallest side `q` (with its mirror image
    /// when `flip`): the posterior averaged over the batch, and the pass's outputs.
    pub async fn dense_image(
        &self,
        image: &RgbImage,
        q: u32,
        flip: bool,
        pause: &mut impl Pause,
    ) -> Result<(Vec<f32>, CpuDense)> {
        check_scales(&[q], self.spec.input_size as u32)?;
        let planes = Planes::rescaled(image, q, &self.meta.preprocessing)?;
        let n = 1 + flip as usize;
        let (h, w) = (planes.height, planes.width);
        let dense = self
            .dense(&planes.dense_batch(flip), n, h, w, pause)
            .await?;
        let posterior = mean_of_rows(&dense.output.probabilities, self.spec.classes);
        Ok((posterior, dense))
    }

    /// One op of a dense chain on `x`, then a pause.
    async fn run_op(&self, op: &Op, x: &[f32], batch: usize, pause: &mut impl Pause) -> Vec<f32> {
        let y = match op {
            Op::Conv(conv) if (conv.kernel == 3 && conv.pad == 1) || conv.pad == 0 => {
                self.convolve(conv, x, batch, pause).await
            }
            // Pools, LRN, and padded convolutions other than VGG's 3×3 (no config has
            // one): their CPU reference. None of them has parameters.
            other => {
                let pass = ReferencePass {
                    batch,
                    params: &[],
                    dropout: None,
                };
                other.reference_forward(&pass, x)
            }
        };
        pause.pause().await;
        y
    }

    /// One convolution, ReLU fused where the op has it: by Winograd when it is 3×3 with
    /// padding 1, else (unpadded) as rows of windows times the weight.
    async fn convolve(
        &self,
        conv: &Conv2d,
        x: &[f32],
        batch: usize,
        pause: &mut impl Pause,
    ) -> Vec<f32> {
        let (weight, bias) = (&self.params[conv.param], &self.params[conv.param + 1]);
        if conv.kernel == 3 && conv.pad == 1 {
            let (o, i) = (conv.out_channels, conv.in_channels);
            let filters = Filters::new(weight, o, i, pause).await;
            let (h, w) = (conv.height, conv.width);
            let chunk = chunk_tiles(&filters);
            return conv3x3(x, batch, h, w, &filters, bias, conv.relu, chunk, pause).await;
        }
        // VGG's other convolutions are unpadded (1×1, and FC layers as convolutions).
        assert_eq!(
            conv.pad, 0,
            "padded {}×{} convolutions",
            conv.kernel, conv.kernel
        );
        let s = ConvShape {
            batch,
            in_channels: conv.in_channels,
            in_h: conv.height,
            in_w: conv.width,
            out_channels: conv.out_channels,
            kernel: conv.kernel,
            pad: 0,
        };
        let rows = unfold(&s, x);
        let k = conv.in_channels * conv.kernel * conv.kernel;
        let mut out = vec![0f32; rows.len() / k * conv.out_channels];
        let outputs = (MULTIPLY_ADDS_PER_CHUNK / rows.len().max(1)).max(1);
        dot_rows_in_chunks(&rows, weight, bias, conv.relu, &mut out, outputs, pause).await;
        fold(&s, &out)
    }
}
