//! Initialisation of a network's parameters (Section 3.1 of the paper).

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::model::{Config, Layer, ModelSpec, ParamOwner, WeightFile};

/// How training starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// Weights from N(0, variance 1e-2), biases zero: the paper's init of net A.
    Gaussian,
    /// Glorot & Bengio (2010) uniform, biases zero: what the authors later found works
    /// without pre-training.
    Glorot,
    /// torchvision's VGG init (He et al. 2015): conv weights N(0, 2 / fan_out), FC
    /// weights N(0, 1e-4), biases zero. Not in the paper; keeps ReLU signals at scale.
    Kaiming,
    /// The paper's init of deeper nets: the first four conv layers and the three FC
    /// layers from a trained net A, the rest Glorot-random.
    FromCheckpoint(String),
    /// Fine-tuning: every tensor of a weight file the CLI reads (ours, or torchvision's
    /// VGGs) whose name and shape fit, the rest (a classifier for other classes, say)
    /// Glorot-random. See [`super::pretrained`].
    Pretrained(String),
}

/// Parsed from `--init`; the error is the message clap shows after naming the option.
impl FromStr for Init {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Init, String> {
        match s {
            "gaussian" => Ok(Init::Gaussian),
            "glorot" | "xavier" => Ok(Init::Glorot),
            "kaiming" | "he" => Ok(Init::Kaiming),
            _ => match (s.split_once(':'), s) {
                (Some(("from", path)), _) if !path.is_empty() => {
                    Ok(Init::FromCheckpoint(path.to_string()))
                }
                (Some(("pretrained", path)), _) if !path.is_empty() => {
                    Ok(Init::Pretrained(path.to_string()))
                }
                _ => Err(format!(
                    "'{s}' is not one of gaussian, glorot, kaiming, from:<net-A checkpoint>, pretrained:<weight file>"
                )),
            },
        }
    }
}

/// As `--init` spells it.
impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Init::Gaussian => write!(f, "gaussian"),
            Init::Glorot => write!(f, "glorot"),
            Init::Kaiming => write!(f, "kaiming"),
            Init::FromCheckpoint(path) => write!(f, "from:{path}"),
            Init::Pretrained(path) => write!(f, "pretrained:{path}"),
        }
    }
}

/// A layer that starts random, and why: `classifier.6` because "1000 → 3 classes".
#[derive(Clone, Debug, PartialEq)]
pub struct RandomLayer {
    /// e.g. `features.2`: its parameters' names without `.weight` and `.bias`.
    pub layer: String,
    pub why: String,
}

impl RandomLayer {
    /// Every layer of `spec`, for a start that takes nothing from a file.
    pub fn every(spec: &ModelSpec, init: &Init) -> Vec<RandomLayer> {
        layer_names(spec)
            .into_iter()
            .map(|layer| RandomLayer {
                layer,
                why: format!("--init {init}"),
            })
            .collect()
    }

    /// `layers` for the user, runs of one reason together: "features.2, features.5
    /// (not in the source), classifier.6 (1000 → 3 classes)".
    pub fn list(layers: &[RandomLayer]) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let last_of_run = layers.get(i + 1).is_none_or(|next| next.why != l.why);
            parts.push(match last_of_run {
                true => format!("{} ({})", l.layer, l.why),
                false => l.layer.clone(),
            });
        }
        parts.join(", ")
    }
}

/// The parameterised layers of `spec` in order (convs, then FC layers): `features.0`, ...
pub fn layer_names(spec: &ModelSpec) -> Vec<String> {
    spec.parameters()
        .into_iter()
        .filter(|p| !p.is_bias)
        .map(|p| p.name.trim_end_matches(".weight").to_string())
        .collect()
}

/// A small deterministic generator (SplitMix64 + Box–Muller): initial weights are a
/// pure function of the seed on every platform.
struct InitRng(u64);

impl InitRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Fresh random parameters for `spec`.
pub fn random_weights(spec: &ModelSpec, init: &Init, seed: u64) -> WeightFile {
    let mut rng = InitRng(seed ^ 0x5E_ED0F_1A17);
    let mut file = WeightFile::default();
    for p in spec.parameters() {
        let n: usize = p.shape.iter().product();
        let values: Vec<f32> = if p.is_bias {
            vec![0.0; n]
        } else if *init == Init::Gaussian {
            (0..n).map(|_| (rng.normal() * 0.1) as f32).collect()
        } else if *init == Init::Kaiming {
            let std = match p.shape.len() {
                4 => (2.0 / (p.shape[0] * p.shape[2] * p.shape[3]) as f64).sqrt(),
                _ => 0.01,
            };
            (0..n).map(|_| (rng.normal() * std) as f32).collect()
        } else {
            // fan_in = inputs × kernel area, fan_out = outputs × kernel area
            let receptive: usize = p.shape[2..].iter().product();
            let (fan_out, fan_in) = (p.shape[0] * receptive, p.shape[1] * receptive);
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
            (0..n)
                .map(|_| ((rng.uniform() * 2.0 - 1.0) * limit) as f32)
                .collect()
        };
        file.tensors.insert(p.name, (p.shape, values));
    }
    file
}

/// The conv layers of `spec` that the paper initialises from net A, as
/// (index among `spec`'s convs, index among A's convs). Net A's first four convs are
/// the first conv of blocks 1 and 2 and the first two of block 3; they go to the same
/// positions of the deeper net, where the shapes agree.
pub fn convs_from_net_a(spec: &ModelSpec) -> Vec<(usize, usize)> {
    let positions = |config: Config| {
        let (mut block, mut within, mut out) = (0, 0, Vec::new());
        for layer in config.layers() {
            match layer {
                Layer::Conv { .. } => {
                    out.push((block, within));
                    within += 1;
                }
                Layer::MaxPool => {
                    block += 1;
                    within = 0;
                }
                Layer::Lrn => {}
            }
        }
        out
    };
    let ours = positions(spec.config);
    positions(Config::A)
        .into_iter()
        .take(4)
        .enumerate()
        .filter_map(|(a_index, pos)| ours.iter().position(|&p| p == pos).map(|i| (i, a_index)))
        .collect()
}

/// The layers of `spec` that [`from_net_a`] leaves random: the convs net A has no
/// counterpart of.
pub fn not_from_net_a(spec: &ModelSpec) -> Vec<RandomLayer> {
    let from_a: Vec<usize> = convs_from_net_a(spec).into_iter().map(|(i, _)| i).collect();
    let names = layer_names(spec);
    (0..spec.conv_layers().len())
        .filter(|i| !from_a.contains(i))
        .map(|i| RandomLayer {
            layer: names[i].clone(),
            why: "not in net A".into(),
        })
        .collect()
}

/// The paper's init of a deeper net: `net_a`'s first four convs and its three FC
/// layers, the rest of `random`. `net_a` must be a net A of the same classes, input
/// size and width; the error names the first tensor that does not fit.
pub fn from_net_a(
    spec: &ModelSpec,
    net_a: &WeightFile,
    origin: &str,
    random: WeightFile,
) -> Result<WeightFile> {
    let a_spec = ModelSpec {
        config: Config::A,
        ..spec.clone()
    };
    net_a.check_matches(&a_spec, origin)?;
    let a_params = a_spec.parameters();
    let mut out = random;
    let conv_map = convs_from_net_a(spec);
    for ours in spec.parameters() {
        let source = match ours.owner {
            ParamOwner::Conv(i) => conv_map
                .iter()
                .find(|(mine, _)| *mine == i)
                .map(|&(_, a)| ParamOwner::Conv(a)),
            ParamOwner::Fc(i) => Some(ParamOwner::Fc(i)),
        };
        let Some(source) = source else { continue };
        let a = a_params
            .iter()
            .find(|p| p.owner == source && p.is_bias == ours.is_bias)
            .expect("net A has four convs and three FCs");
        let (shape, values) = &net_a.tensors[&a.name];
        if *shape != ours.shape {
            return Err(Error::WeightFile {
                path: origin.to_string(),
                message: format!(
                    "tensor '{}' has shape {:?}, but it initialises '{}' of shape {:?}",
                    a.name, shape, ours.name, ours.shape
                ),
            });
        }
        out.tensors
            .insert(ours.name.clone(), (shape.clone(), values.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(config: Config) -> ModelSpec {
        ModelSpec {
            config,
            classes: 10,
            input_size: 32,
            width_divisor: 16,
        }
    }

    #[test]
    fn net_a_layers_map_to_matching_positions() {
        // D: block1 convs 0,1; block2 2,3; block3 4,5,6 → A's convs 0,1,2,3 go to 0,2,4,5.
        assert_eq!(
            convs_from_net_a(&spec(Config::D)),
            vec![(0, 0), (2, 1), (4, 2), (5, 3)]
        );
        assert_eq!(
            convs_from_net_a(&spec(Config::A)),
            vec![(0, 0), (1, 1), (2, 2), (3, 3)]
        );
    }

    /// What `--freeze` is checked against: the layers a start leaves random.
    #[test]
    fn the_layers_a_start_leaves_random_are_named() {
        let d = spec(Config::D);
        let random = not_from_net_a(&d);
        let layers: Vec<&str> = random.iter().map(|r| r.layer.as_str()).collect();
        assert_eq!(layers[..3], ["features.2", "features.7", "features.14"]);
        assert_eq!(random.len(), 13 - 4, "every conv but the four from net A");
        assert_eq!(not_from_net_a(&spec(Config::A)).len(), 8 - 4);
        let every = RandomLayer::every(&d, &Init::Kaiming);
        assert_eq!(every.len(), 16);
        assert_eq!(
            RandomLayer::list(&every[13..]),
            "classifier.0, classifier.3, classifier.6 (--init kaiming)"
        );
    }

    #[test]
    fn gaussian_has_the_papers_variance_and_glorot_its_bound() {
        let s = ModelSpec {
            config: Config::A,
            classes: 10,
            input_size: 32,
            width_divisor: 1,
        };
        let w = random_weights(&s, &Init::Gaussian, 1);
        let (_, v) = &w.tensors["features.3.weight"];
        let var = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64;
        assert!((var - 1e-2).abs() < 5e-4, "variance {var}");
        assert!(w.tensors["features.3.bias"].1.iter().all(|&b| b == 0.0));
        let g = random_weights(&s, &Init::Glorot, 1);
        let (_, v) = &g.tensors["features.3.weight"]; // 64 → 128, 3×3
        let limit = (6.0f64 / ((64 + 128) * 9) as f64).sqrt() as f32;
        assert!(v.iter().all(|x| x.abs() <= limit) && v.iter().any(|x| x.abs() > 0.9 * limit));
        assert_eq!(random_weights(&s, &Init::Glorot, 1), g, "deterministic");
    }

    #[test]
    fn init_from_net_a_copies_exactly_the_papers_layers() {
        let mut a = random_weights(&spec(Config::A), &Init::Glorot, 7);
        for (name, (_, values)) in a.tensors.iter_mut() {
            if name.ends_with("bias") {
                values.fill(1.0); // so that copied biases are told apart from fresh zeros
            }
        }
        let random = random_weights(&spec(Config::E), &Init::Glorot, 8);
        let e = from_net_a(&spec(Config::E), &a, "a.safetensors", random.clone()).unwrap();
        let a_params = spec(Config::A).parameters();
        let copied: Vec<(usize, usize)> = convs_from_net_a(&spec(Config::E));
        for p in spec(Config::E).parameters() {
            let from_a = match p.owner {
                ParamOwner::Conv(i) => copied
                    .iter()
                    .find(|c| c.0 == i)
                    .map(|c| ParamOwner::Conv(c.1)),
                ParamOwner::Fc(i) => Some(ParamOwner::Fc(i)),
            };
            match from_a {
                Some(owner) => {
                    let src = a_params
                        .iter()
                        .find(|q| q.owner == owner && q.is_bias == p.is_bias)
                        .unwrap();
                    assert_eq!(
                        e.tensors[&p.name], a.tensors[&src.name],
                        "{} from {}",
                        p.name, src.name
                    );
                }
                None => assert_eq!(
                    e.tensors[&p.name], random.tensors[&p.name],
                    "{} stays random",
                    p.name
                ),
            }
        }
        // 4 convs + 3 FCs, weight and bias each.
        let same = spec(Config::E)
            .parameters()
            .iter()
            .filter(|p| e.tensors[&p.name] != random.tensors[&p.name])
            .count();
        assert_eq!(same, 14);
    }

    #[test]
    fn net_a_of_another_class_count_is_refused_by_name() {
        let a = random_weights(
            &ModelSpec {
                classes: 5,
                ..spec(Config::A)
            },
            &Init::Glorot,
            7,
        );
        let err = from_net_a(&spec(Config::D), &a, "a.safetensors", WeightFile::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("classifier.6.weight")
                && err.contains("[5, 256]")
                && err.contains("[10, 256]"),
            "{err}"
        );
    }
}
