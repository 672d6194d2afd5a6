//! Fine-tuning: a network started from the tensors of a pretrained one. Every tensor
//! whose name and shape agree is copied; the others (a classifier for another number
//! of classes, a layer of another width) keep their fresh initialisation, and the
//! user is told which, by layer.

use crate::error::{Error, Result};
use crate::model::{ModelSpec, WeightFile};

/// The starting weights and what they took from the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub weights: WeightFile,
    /// Tensors copied from the source.
    pub copied: usize,
    /// Layers that start fresh, each with why: "classifier.6 (1000 → 3 classes)".
    pub fresh_layers: Vec<String>,
}

impl Transfer {
    /// One line for the user: "copied 30 tensors of vgg16.safetensors; new:
    /// classifier.6 (1000 → 3 classes)".
    pub fn describe(&self, origin: &str) -> String {
        let fresh = match self.fresh_layers.is_empty() {
            true => "every layer".to_string(),
            false => format!("new: {}", self.fresh_layers.join(", ")),
        };
        format!("copied {} tensors of {origin}; {fresh}", self.copied)
    }
}

/// `fresh` (initial weights for `spec`) with every tensor of `source` that fits copied
/// over it. A source that fits nothing at all is refused: it is not a pretrained VGG of
/// this kind.
pub fn transfer(
    spec: &ModelSpec,
    source: &WeightFile,
    origin: &str,
    fresh: WeightFile,
) -> Result<Transfer> {
    let mut weights = fresh;
    let (mut copied, mut fresh_layers) = (0, Vec::new());
    let last_fc = spec
        .parameters()
        .last()
        .map(|p| layer_of(&p.name).to_string());
    for p in spec.parameters() {
        let layer = layer_of(&p.name);
        match source.tensors.get(&p.name) {
            Some((shape, values)) if *shape == p.shape => {
                weights
                    .tensors
                    .insert(p.name.clone(), (shape.clone(), values.clone()));
                copied += 1;
            }
            _ if p.is_bias => {} // its weight already named the layer
            found => {
                let why = match found {
                    None => "not in the source".to_string(),
                    Some((shape, _)) if Some(layer.to_string()) == last_fc => {
                        format!("{} → {} classes", shape[0], p.shape[0])
                    }
                    Some((shape, _)) => format!("shape {shape:?} → {:?}", p.shape),
                };
                fresh_layers.push(format!("{layer} ({why})"));
            }
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
        fresh_layers,
    })
}

/// `features.0` of `features.0.weight`.
fn layer_of(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(layer, _)| layer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
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
        let t = transfer(&spec(3), &source, "vgg16.safetensors", fresh.clone()).unwrap();
        assert_eq!(t.copied, 30, "13 convs and 2 FC layers, weight and bias");
        assert_eq!(t.fresh_layers, vec!["classifier.6 (1000 → 3 classes)"]);
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
        let t = transfer(&spec(3), &source, "x", fresh).unwrap();
        assert_eq!(
            t.fresh_layers,
            vec![
                "features.2 (not in the source)",
                "classifier.3 (shape [128, 128] → [256, 256])"
            ]
        );
        assert_eq!(t.copied, 30, "the two layers' biases still fit");
    }

    #[test]
    fn a_source_that_fits_nothing_is_refused() {
        let other = ModelSpec {
            width_divisor: 8,
            ..spec(5)
        };
        let source = random_weights(&other, &Init::Glorot, 1);
        let message = transfer(&spec(3), &source, "odd.safetensors", WeightFile::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("odd.safetensors") && message.contains("no tensor that fits"),
            "{message}"
        );
    }
}
