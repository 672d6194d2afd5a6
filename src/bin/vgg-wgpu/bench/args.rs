//! What `vgg-wgpu bench` is asked to measure: the target, the network, the batch, and
//! how long to repeat each measurement.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use vgg_wgpu::model::{Config, ModelSpec};
use vgg_wgpu::Result;

#[derive(Clone, Copy, ValueEnum)]
pub enum BenchTarget {
    /// Each distinct conv layer of the network (VGG-16 by default): forward and
    /// backward GFLOP/s, as a share of numpy's SGEMM and of the adapter's peak.
    Kernels,
    /// Whole training steps and inference passes of the network: images/s.
    Step,
    /// Dense evaluation alone (what classify and the page run), at --dense-size: images/s,
    /// and with --profile each op and kernel of one pass. Quicker than `step` where a
    /// training step is slow (SwiftShader, lavapipe).
    Dense,
    /// Data-parallel training with 1 and with --replicas devices on the chosen adapter:
    /// images/s, bytes exchanged and exchange time per step, scaling efficiency.
    Replicas,
    /// The adapter's own ceilings: fp32 multiply-add GFLOP/s on values in registers,
    /// storage loads per second, and numpy's SGEMM on the CPU for scale.
    Peak,
    /// The training data loader alone, as `train --data DIR` builds it (decode, scale
    /// jitter, crop, flip, colour shift, normalisation), no adapter: images/s and
    /// images/s per core with 0 workers (the caller's thread), 1, and one per core.
    Loader,
}

/// One pass of a conv layer.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pass {
    /// The forward convolution as training runs it.
    Forward,
    /// The forward convolution as inference runs it: Winograd's F(4×4, 3×3) on adapters
    /// that use it for 3×3 filters (SwiftShader), timed by default only there; its
    /// GFLOP/s count the direct convolution's multiply-adds (the speed it is worth).
    Inference,
    /// The gradient of the input.
    Data,
    /// The gradients of the weight and the bias.
    Weight,
}

impl Pass {
    pub const ALL: [Pass; 4] = [Pass::Forward, Pass::Inference, Pass::Data, Pass::Weight];

    /// The pass as the table and the JSON name it.
    pub fn label(self) -> &'static str {
        match self {
            Pass::Forward => "forward",
            Pass::Inference => "inference",
            Pass::Data => "backward data",
            Pass::Weight => "backward weight",
        }
    }
}

#[derive(Args)]
pub struct BenchArgs {
    #[arg(value_enum, default_value = "kernels")]
    pub target: BenchTarget,
    /// VGG configuration (D = VGG-16).
    #[arg(long, default_value = "D")]
    pub config: Config,
    /// Divide every layer's width by this.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub width_divisor: usize,
    /// Classes of the network's last layer (for `step`).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    pub classes: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub batch: usize,
    /// Input size of the network (224 = the paper's; smaller is quicker on a CPU adapter);
    /// for `loader`, the crop.
    #[arg(
        long,
        visible_alias = "crop",
        default_value_t = 224,
        allow_negative_numbers = true
    )]
    pub size: usize,
    /// Keep repeating each measurement until this many seconds have passed (0 to 86400).
    #[arg(
        long,
        default_value_t = 0.5,
        value_parser = parse_min_seconds,
        // "-1" and "-inf" too, so that the range check answers them.
        allow_hyphen_values = true
    )]
    pub min_seconds: f64,
    /// Only the layers whose name contains this text (for `kernels`), e.g. "256→256".
    #[arg(long)]
    pub layer: Option<String>,
    /// Only this pass of each layer (for `kernels`); all three by default.
    #[arg(long, value_enum)]
    pub pass: Option<Pass>,
    /// Skip the CPU reference (numpy's SGEMM on each layer's implicit GEMM).
    #[arg(long)]
    pub no_cpu_reference: bool,
    /// Print one JSON object per measurement instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Replicas to compare with one (for `replicas`).
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    pub replicas: usize,
    /// With `step` and `dense`: the image side for dense (fully convolutional)
    /// evaluation; default the input size.
    #[arg(long, allow_negative_numbers = true)]
    pub dense_size: Option<usize>,
    /// With `step` and `dense`: also time each op and kernel of one training step
    /// (`step`) and of one dense pass (GPU timestamps where the adapter has them, otherwise each dispatch alone by
    /// wall clock).
    #[arg(long)]
    pub profile: bool,
    /// With `dense`: the weights stored as IEEE halves (`classify --f16-weights`).
    #[arg(long)]
    pub f16_weights: bool,
    /// With `dense`: time the CPU engine instead of the adapter (what the page runs on
    /// a CPU adapter; one thread here as there).
    #[arg(long)]
    pub cpu_engine: bool,
    /// With `loader`: the image folder, as `train --data` takes it (train/<class>/*.jpg).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With `loader`: the training scale S, as `train --scale` takes it (256 or 256:512).
    #[arg(long)]
    pub scale: Option<String>,
    /// With `loader`: the worker counts to time, e.g. 0,1,4 (0 makes batches in the
    /// caller's thread). Default: 0, 1 and this machine's cores.
    #[arg(long, value_delimiter = ',')]
    pub workers: Option<Vec<usize>>,
}

impl BenchArgs {
    /// The network to measure, checked.
    pub fn spec(&self) -> Result<ModelSpec> {
        let spec = ModelSpec {
            config: self.config,
            classes: self.classes,
            input_size: self.size,
            width_divisor: self.width_divisor,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The network as a heading names it: "VGG-D", "VGG-A (widths ÷8)".
    pub fn network_name(&self) -> String {
        match self.width_divisor {
            1 => format!("VGG-{}", self.config),
            d => format!("VGG-{} (widths ÷{d})", self.config),
        }
    }
}

/// The longest `--min-seconds`: a day. Longer is surely a typo, and the timer's clock
/// arithmetic should not have to care about overflow.
const MAX_MIN_SECONDS: f64 = 86_400.0;

/// `--min-seconds`: a finite number of seconds from 0 to a day.
fn parse_min_seconds(text: &str) -> std::result::Result<f64, String> {
    let allowed = format!("a number of seconds from 0 to {MAX_MIN_SECONDS} (a day)");
    match text.trim().parse::<f64>() {
        Ok(seconds) if (0.0..=MAX_MIN_SECONDS).contains(&seconds) => Ok(seconds),
        _ => Err(format!("{text} is not {allowed}")),
    }
}
