//! Fine-tuning: a network started from the tensors of a pretrained one. Every tensor
//! whose name and shape agree is copied; the others (a classifier for another number
//! of classes, a layer of another width or configuration) keep their fresh
//! initialisation, and the user is told which, by layer.

use super::init::RandomLayer;
use crate::error::{Error, Result};
use crate::model::{Config, ModelSpec, WeightFile};

/// The starting weights and what they took from the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub weights: WeightFile,
    /// Tensors copied from the source.
    pub copied: usize,
    /// The source's configuration (the file's metadata, or read off its tensors) and
    /// the network's: where they differ, few tensors fit.
    pub source_config: Config,
    pub config: Config,
    /// Layers that start random, each with why: "classifier.6 (1000 → 3 classes)".
    pub random_layers: Vec<RandomLayer>,
}

impl Transfer {
    /// `spec` started from the weight file at `path`, checked to be a VGG this program
    /// knows, with finite values; what it lacks is Glorot-random from `seed`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_file(spec: &ModelSpec, path: &str, seed: u64) -> Result<Transfer> {
        use super::init::{random_weights, Init};
        let source = WeightFile::load(std::path::Path::new(path))?;
        let described = crate::model::describe(&source, path)?;
        let fresh = random_weights(spec, &Init::Glorot, seed);
        transfer(spec, &source, described.spec.config, path, fresh)
    }

    /// One line for the user: "copied 30 tensors of vgg16.safetensors; new:
    /// classifier.6 (1000 → 3 classes)", the layers that start fresh after "new".
    pub fn describe(&self, origin: &str) -> String {
        let fresh = match self.random_layers.is_empty() {
            true => "every layer".to_string(),
            false => format!("new: {}", RandomLayer::list(&self.random_layers)),
        };
        let source = match self.source_config == self.config {
            true => origin.to_string(),
            false => format!(
                "{origin}, a VGG-{} (this network: VGG-{})",
                self.source_config, self.config
            ),
        };
        format!("copied {} tensors of {source}; {fresh}", self.copied)
    }
}

/// `fresh` (initial weights for `spec`) with every tensor of `source` (a VGG of
/// `source_config`) that fits copied over it. A source that fits nothing at all is
/// refused: it is not a pretrained VGG of this kind.
pub fn transfer(
    spec: &ModelSpec,
    source: &WeightFile,
    source_config: Config,
    origin: &str,
    fresh: WeightFile,
) -> Result<Transfer> {
    let mut weights = fresh;
    let (mut copied, mut random_layers) = (0, Vec::new());
    let params = spec.parameters();
    let last_fc = params.last().map(|p| layer_of(&p.name).to_string());
    for p in &params {
        let layer = layer_of(&p.name);
        let why = match source.tensors.get(&p.name) {
            Some((shape, values)) if *shape == p.shape => {
                weights
                    .tensors
                    .insert(p.name.clone(), (shape.clone(), values.clone()));
                copied += 1;
                continue;
            }
            None => "not in the source".to_string(),
            Some((shape, _)) if Some(layer.to_string()) == last_fc => {
                format!("{} → {} classes", shape[0], p.shape[0])
            }
            Some((shape, _)) => format!("shape {shape:?} → {:?}", p.shape),
        };
        // A layer is named once, by its weight's reason (or its bias's, alone).
        if random_layers
            .last()
            .is_none_or(|l: &RandomLayer| l.layer != layer)
        {
            random_layers.push(RandomLayer {
                layer: layer.to_string(),
                why,
            });
        }
    }
    if copied == 0 {
        return Err(Error::WeightFile {
            path: origin.to_string(),
            message: format!(
                "has no tensor that fits this VGG-{} (width ÷{}, input {}): is it a VGG weight file? \
                 Leave out --config, --crop and --width-divisor to take them from the file",
                spec.config, spec.width_divisor, spec.input_size
            ),
        });
    }
    Ok(Transfer {
        weights,
        copied,
        source_config,
        config: spec.config,
        random_layers,
    })
}

/// `features.0` of `features.0.weight`.
fn layer_of(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(layer, _)| layer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::init::{random_weights, Init};

    fn spec(classes: usize) -> ModelSpec {
        ModelSpec {
            config: Config::D,
            classes,
            input_size: 32,
            width_divisor: 16,
        }
    }

    #[test]
    fn everything_but_a_classifier_for_other_classes_is_copied() {
        let source = random_weights(&spec(1000), &Init::Glorot, 1);
        let fresh = random_weights(&spec(3), &Init::Glorot, 2);
        let t = transfer(
            &spec(3),
            &source,
            Config::D,
            "vgg16.safetensors",
            fresh.clone(),
        )
        .unwrap();
        assert_eq!(t.copied, 30, "13 convs and 2 FC layers, weight and bias");
        assert_eq!(
            RandomLayer::list(&t.random_layers),
            "classifier.6 (1000 → 3 classes)"
        );
        for (name, tensor) in &t.weights.tensors {
            let expected = match name.starts_with("classifier.6") {
                true => &fresh.tensors[name],
                false => &source.tensors[name],
            };
            assert_eq!(tensor, expected, "{name}");
        }
        assert_eq!(
            t.describe("vgg16.safetensors"),
            "copied 30 tensors of vgg16.safetensors; new: classifier.6 (1000 → 3 classes)"
        );
    }

    #[test]
    fn layers_of_another_shape_or_missing_are_named() {
        let mut source = random_weights(&spec(3), &Init::Glorot, 1);
        source.tensors.remove("features.2.weight");
        let narrow = ModelSpec {
            width_divisor: 32,
            ..spec(3)
        };
        let narrow_source = random_weights(&narrow, &Init::Glorot, 1);
        source.tensors.insert(
            "classifier.3.weight".into(),
            narrow_source.tensors["classifier.3.weight"].clone(),
        );
        let fresh = random_weights(&spec(3), &Init::Glorot, 2);
        let t = transfer(&spec(3), &source, Config::D, "x", fresh).unwrap();
        assert_eq!(
            RandomLayer::list(&t.random_layers),
            "features.2 (not in the source), classifier.3 (shape [128, 128] → [256, 256])"
        );
        assert_eq!(t.copied, 30, "the two layers' biases still fit");
    }

    /// A VGG-11 file for a VGG-16 fits features.0 and two FC layers alone; the note
    /// says which file it is and which layers start random.
    #[test]
    fn a_source_of_another_configuration_is_named_with_its_random_layers() {
        let a = ModelSpec {
            config: Config::A,
            ..spec(1000)
        };
        let source = random_weights(&a, &Init::Glorot, 1);
        let fresh = random_weights(&spec(3), &Init::Glorot, 2);
        let t = transfer(&spec(3), &source, Config::A, "vgg11.safetensors", fresh).unwrap();
        assert_eq!(t.copied, 6);
        let convs: Vec<&str> = t.random_layers[..12]
            .iter()
            .map(|r| r.layer.as_str())
            .collect();
        assert_eq!(convs[0], "features.2");
        assert_eq!(convs[11], "features.28");
        assert_eq!(t.random_layers.len(), 13, "12 convs and classifier.6");
        assert_eq!(
            t.describe("vgg11.safetensors"),
            "copied 6 tensors of vgg11.safetensors, a VGG-A (this network: VGG-D); new: features.2, \
             features.5, features.7, features.10, features.12, features.14, features.17, features.19, \
             features.21, features.24, features.26, features.28 (not in the source), classifier.6 (1000 → 3 classes)"
        );
    }

    #[test]
    fn a_source_that_fits_nothing_is_refused() {
        let other = ModelSpec {
            width_divisor: 8,
            ..spec(5)
        };
        let source = random_weights(&other, &Init::Glorot, 1);
        let message = transfer(
            &spec(3),
            &source,
            Config::D,
            "odd.safetensors",
            WeightFile::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("odd.safetensors") && message.contains("no tensor that fits"),
            "{message}"
        );
    }
}
