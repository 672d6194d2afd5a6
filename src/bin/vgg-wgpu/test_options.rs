//! Options shared by `eval`, `classify` and `features`: counts and test scales checked
//! as they are parsed, and the model's preprocessing, training scale and class names,
//! which a weight file without our metadata leaves to a guess that the user hears about
//! and can override.

use std::path::{Path, PathBuf};

use clap::Args;
use vgg_wgpu::data::{Given, Preprocessing};
use vgg_wgpu::error::{Error, Result};
use vgg_wgpu::eval::TestModel;
use vgg_wgpu::gpu::Storage;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::meta::read_class_names;
use vgg_wgpu::model::ModelMeta;
use vgg_wgpu::terminal::printable;

/// How images are prepared for the network, instead of what the weight file says.
#[derive(Args)]
pub struct ModelOverrides {
    /// Input normalisation: `torchvision` (pixels to 0..1, then ImageNet's mean and std),
    /// `mean` (0..255 pixels minus --mean, the paper's) or `mean-std` (also divided by
    /// --std). Default: the weight file's metadata; without any, torchvision's.
    #[arg(long, value_parser = ["torchvision", "mean", "mean-std"])]
    normalize: Option<String>,
    /// The mean RGB to subtract, in 0..255 pixel units, e.g. 124,116,104 (implies
    /// `--normalize mean` unless --std is given too).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    mean: Option<Vec<f32>>,
    /// The per-channel standard deviation to divide by, in 0..255 pixel units.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    std: Option<Vec<f32>>,
    /// The scale S the network was trained at (smallest image side), or Smin:Smax for
    /// scale jittering; the default test scales follow from it.
    #[arg(long, value_parser = train_scale, allow_negative_numbers = true)]
    train_scale: Option<[u32; 2]>,
    /// Store the weights on the GPU as IEEE halves: half the memory (VGG-16: 276 MB
    /// instead of 553), computed in f32 all the same. Each weight is rounded to the
    /// nearest half, which moves the posteriors slightly (BENCHMARKS.md, "f16 weights");
    /// a file of F16 tensors loses nothing more.
    #[arg(long)]
    f16_weights: bool,
}

impl ModelOverrides {
    /// Loads `path`, applies the overrides, and says on stderr what was guessed.
    pub fn load(&self, ctx: &GpuContext, path: &Path) -> Result<TestModel> {
        let storage = match self.f16_weights {
            true => Storage::F16,
            false => Storage::F32,
        };
        let mut model = TestModel::load(ctx, path, storage)?;
        let preprocessing = self.preprocessing()?;
        if let Some(p) = preprocessing {
            model.meta.preprocessing = p;
        }
        if let Some(s) = self.train_scale {
            model.meta.train_scale = s;
        }
        if model.guessed {
            let how = |given: bool| if given { "as given" } else { "assumed" };
            eprintln!(
                "note: '{}' has no '{}' metadata, so how it was trained is a guess: read as VGG-{} ({} classes, input {}, widths ÷{}) from its tensors; preprocessing {} ({}); training scale S={} ({}). If that is not how it was trained, give --normalize, --mean, --std, --train-scale.",
                printable(&model.origin),
                ModelMeta::KEY,
                model.spec.config,
                model.spec.classes,
                model.spec.input_size,
                model.spec.width_divisor,
                preprocessing_text(&model.meta.preprocessing),
                how(preprocessing.is_some()),
                scale_text(model.meta.train_scale),
                how(self.train_scale.is_some()),
            );
        }
        Ok(model)
    }

    /// The preprocessing the options ask for, or None to keep the file's.
    fn preprocessing(&self) -> Result<Option<Preprocessing>> {
        let bad = |message: String| Error::InvalidArgument {
            op: "--normalize",
            message,
        };
        let rgb = |name: &str, v: &Option<Vec<f32>>| -> Result<Option<[f32; 3]>> {
            match v.as_deref() {
                None => Ok(None),
                Some(&[r, g, b]) => Ok(Some([r, g, b])),
                Some(other) => Err(bad(format!(
                    "--{name} takes three values R,G,B, got {}",
                    other.len()
                ))),
            }
        };
        let (mean, std) = (rgb("mean", &self.mean)?, rgb("std", &self.std)?);
        let kind = match (self.normalize.as_deref(), mean, std) {
            (Some(kind), _, _) => kind,
            (None, Some(_), None) => "mean",
            (None, Some(_), Some(_)) => "mean-std",
            (None, None, Some(_)) => "mean-std",
            (None, None, None) => return Ok(None),
        };
        let preprocessing = match (kind, mean, std) {
            ("torchvision", None, None) => Preprocessing::TORCHVISION,
            ("torchvision", _, _) => return Err(bad(
                "`torchvision` fixes the mean and std: drop --mean and --std, or use `mean-std`"
                    .into(),
            )),
            ("mean", Some(mean), None) => Preprocessing::mean_only(mean),
            ("mean-std", Some(mean), Some(std)) => Preprocessing {
                std,
                ..Preprocessing::mean_only(mean)
            },
            (kind, _, _) => {
                return Err(bad(format!(
                    "`{kind}` needs {}",
                    if kind == "mean" {
                        "--mean R,G,B (and no --std: that is `mean-std`)"
                    } else {
                        "both --mean R,G,B and --std R,G,B"
                    }
                )))
            }
        };
        preprocessing.check(Given::Options)?;
        Ok(Some(preprocessing))
    }
}

/// The class names `classify` and `eval` use (`features` has no use for them).
#[derive(Args)]
pub struct ClassNames {
    /// A text file with one class name per line, in the model's class order, to use
    /// instead of the weight file's names (a file without our metadata has ImageNet's
    /// when it has 1000 classes, else "class N").
    #[arg(long)]
    labels: Option<PathBuf>,
}

impl ClassNames {
    /// The --labels file, if given.
    pub fn file(&self) -> Option<&Path> {
        self.labels.as_deref()
    }

    /// Gives `model` the names of --labels, or says on stderr when it keeps ImageNet's
    /// by assumption.
    pub fn apply(&self, model: &mut TestModel) -> Result<()> {
        if let Some(path) = &self.labels {
            model.meta.class_names = read_class_names(path, model.spec.classes)?;
        } else if model.imagenet_names_assumed() {
            eprintln!(
                "note: '{}' names none of its {} classes, so they are taken as ImageNet's (ILSVRC-2012, in torchvision's class order). If it was trained on other classes, give --labels FILE.",
                printable(&model.origin),
                model.spec.classes
            );
        }
        Ok(())
    }
}

fn preprocessing_text(p: &Preprocessing) -> String {
    if *p == Preprocessing::TORCHVISION {
        return "torchvision's: pixels to 0..1, ImageNet's mean and std".into();
    }
    format!(
        "pixels × {} minus mean {:?}, divided by std {:?}",
        p.scale, p.mean, p.std
    )
}

pub fn scale_text([a, b]: [u32; 2]) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("[{a};{b}]")
    }
}

/// `S` or `Smin:Smax`, each a positive whole number of pixels.
fn train_scale(text: &str) -> std::result::Result<[u32; 2], String> {
    let (a, b) = text.split_once(':').unwrap_or((text, text));
    match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
        (Ok(a), Ok(b)) if 0 < a && a <= b => Ok([a, b]),
        _ => Err(format!(
            "'{text}' is not a training scale: give S or Smin:Smax in pixels, e.g. 256 or 256:512"
        )),
    }
}

/// A count that must be at least 1 (`--top`, `--limit`): 0 would print or compute
/// nothing, so it is refused where it is typed.
pub fn count(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("must be at least 1".into()),
        Err(_) => Err(format!(
            "'{text}' is not a count: give a whole number of at least 1"
        )),
    }
}

/// A test scale Q: a positive whole number of pixels (whether it is at least the
/// training size is checked against the model).
pub fn scale(text: &str) -> std::result::Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(q) if q >= 1 => Ok(q),
        _ => Err(format!(
            "'{text}' is not a test scale: give the smallest image side in pixels, e.g. 256"
        )),
    }
}
