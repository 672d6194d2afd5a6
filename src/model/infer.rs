//! What a weight file without our metadata (torchvision's or timm's VGG exports) is:
//! the network read off its tensor names and shapes, and torchvision's conventions for
//! everything the tensors cannot say.
//!
//! - width divisor: 64 / the outputs of `features.0` (torchvision: 1);
//! - classes: the outputs of `classifier.6`;
//! - input size: 32·s where `classifier.0` reads 512/divisor · s² features (25088: 224);
//! - configuration: the one whose parameter names and shapes all match (A, B, D, E are
//!   torchvision's vgg11, vgg13, vgg16, vgg19);
//! - preprocessing: torchvision's ImageNet mean and std; training scale 256 for a
//!   224 input (input·8/7 in general); class names ImageNet's for 1000 classes (every
//!   torchvision VGG is an ImageNet classifier), else "class 0", "class 1", ....

use super::config::{Config, ModelSpec};
use super::imagenet;
use super::meta::ModelMeta;
use super::weights::WeightFile;
use crate::data::Preprocessing;
use crate::error::{Error, Result};

/// The spec of a torchvision-layout file; the error says what did not fit.
pub fn infer_spec(weights: &WeightFile, origin: &str) -> Result<ModelSpec> {
    let bad = |message: String| Error::WeightFile {
        path: origin.to_string(),
        message,
    };
    let shape = |name: &str| {
        weights
            .tensors
            .get(name)
            .map(|(s, _)| s.clone())
            .ok_or_else(|| {
                bad(format!(
                    "has no '{name}' tensor and no '{}' metadata: it is not a VGG weight file this program knows",
                    ModelMeta::KEY
                ))
            })
    };
    if let Some(message) = not_a_vgg(weights) {
        return Err(bad(message));
    }
    let first = shape("features.0.weight")?;
    let fc1 = shape("classifier.0.weight")?;
    let fc3 = shape("classifier.6.weight")?;
    let (first_width, fc1_in, classes) = match (&first[..], &fc1[..], &fc3[..]) {
        ([o, 3, _, _], [_, i], [c, _]) => (*o, *i, *c),
        _ => {
            return Err(bad(format!(
                "has features.0.weight {first:?}, classifier.0.weight {fc1:?}, classifier.6.weight {fc3:?}: not the shapes of a VGG"
            )))
        }
    };
    let width_divisor = if first_width > 0 && 64 % first_width == 0 {
        64 / first_width
    } else {
        return Err(bad(format!(
            "features.0.weight has {first_width} output channels; a VGG has 64 (or 64 divided by a width divisor)"
        )));
    };
    let last_channels = 512 / width_divisor;
    let side = (1..=64).find(|s| last_channels * s * s == fc1_in).ok_or_else(|| {
        bad(format!(
            "classifier.0.weight reads {fc1_in} features, not {last_channels}·s² for any feature map side s"
        ))
    })?;
    let candidates: Vec<ModelSpec> = Config::ALL
        .into_iter()
        .map(|config| ModelSpec {
            config,
            classes,
            input_size: 32 * side,
            width_divisor,
        })
        .collect();
    let count = weights.tensors.len();
    candidates
        .into_iter()
        .find(|spec| {
            spec.parameters().len() == count && weights.check_matches(spec, origin).is_ok()
        })
        .ok_or_else(|| {
            let convs: Vec<String> = weights
                .tensors
                .keys()
                .filter_map(|n| n.strip_prefix("features.")?.strip_suffix(".weight"))
                .map(str::to_string)
                .collect();
            bad(format!(
                "has conv weights at features.{{{}}} ({count} tensors), which match none of the configurations A, A-LRN, B, C, D, E",
                convs.join(",")
            ))
        })
}

/// Why a file without our metadata is no VGG at all, when none of its tensors has a
/// VGG's names (features.N, classifier.N): e.g. a ResNet's conv1, bn1, layer1, fc.
fn not_a_vgg(weights: &WeightFile) -> Option<String> {
    let names = || weights.tensors.keys().chain(weights.unread.keys());
    let vgg_like = |n: &&String| n.starts_with("features.") || n.starts_with("classifier.");
    if names().any(|n| vgg_like(&n)) {
        return None;
    }
    if names().next().is_none() {
        return Some("holds no tensors: it is not a VGG's weights".into());
    }
    let groups: std::collections::BTreeSet<&str> =
        names().map(|n| n.split('.').next().unwrap_or(n)).collect();
    let shown: Vec<String> = groups.iter().take(8).map(|g| format!("{g}.*")).collect();
    let more = match groups.len() > shown.len() {
        true => ", ...",
        false => "",
    };
    Some(format!(
        "is not a VGG: its {} tensors are named {}{more}, where a VGG's are features.* and classifier.* \
         (and it has no '{}' metadata); give a VGG's weights, this program's or torchvision's vgg11 to vgg19",
        names().count(),
        shown.join(", "),
        ModelMeta::KEY
    ))
}

/// The metadata torchvision's conventions give a file of `spec` (see the module doc).
pub fn torchvision_meta(spec: &ModelSpec) -> ModelMeta {
    let scale = ((spec.input_size * 8 + 3) / 7) as u32;
    let names = if spec.classes == imagenet::CLASSES {
        imagenet::class_names()
    } else {
        (0..spec.classes).map(|i| format!("class {i}")).collect()
    };
    ModelMeta::new(spec, names, Preprocessing::TORCHVISION, [scale, scale])
}

/// What a weight file holds, by [`describe`].
#[derive(Clone, Debug, PartialEq)]
pub struct Described {
    pub spec: ModelSpec,
    pub meta: ModelMeta,
    /// The file has no metadata: `spec` was read off its tensors and `meta` follows
    /// torchvision's conventions, a guess its user should hear about.
    pub guessed: bool,
}

/// The spec and metadata of any weight file: ours carry them, others are inferred.
/// Either way the tensors are checked against the spec and must be finite.
pub fn describe(weights: &WeightFile, origin: &str) -> Result<Described> {
    let (spec, meta, guessed) = match ModelMeta::read(weights, origin)? {
        Some(meta) => (meta.spec()?, meta, false),
        None => {
            let spec = infer_spec(weights, origin)?;
            let meta = torchvision_meta(&spec);
            (spec, meta, true)
        }
    };
    weights.check_matches(&spec, origin)?;
    weights.check_finite(&spec, origin)?;
    if meta.class_names.len() != spec.classes {
        return Err(Error::WeightFile {
            path: origin.to_string(),
            message: format!(
                "metadata lists {} class names for {} classes",
                meta.class_names.len(),
                spec.classes
            ),
        });
    }
    Ok(Described {
        spec,
        meta,
        guessed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with the names and shapes of `spec` (values need not be real to infer).
    fn shaped_like(spec: &ModelSpec) -> WeightFile {
        let mut w = WeightFile::default();
        for p in spec.parameters() {
            w.tensors.insert(p.name, (p.shape, Vec::new()));
        }
        w
    }

    /// A ResNet's state dict was refused for the dtype of bn1.num_batches_tracked.
    #[test]
    fn a_file_of_another_network_is_named_as_such() {
        let mut resnet = WeightFile::default();
        for name in [
            "conv1.weight",
            "bn1.running_mean",
            "layer1.0.conv1.weight",
            "fc.weight",
        ] {
            resnet.tensors.insert(name.into(), (vec![1], vec![0.0]));
        }
        resnet
            .unread
            .insert("bn1.num_batches_tracked".into(), "I64".into());
        let message = infer_spec(&resnet, "resnet18.safetensors")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with(
                "weight file 'resnet18.safetensors' is not a VGG: its 5 tensors are named bn1.*, conv1.*, fc.*, layer1.*, where"
            ),
            "{message}"
        );
        let message = describe(&resnet, "r").unwrap_err().to_string();
        assert!(message.contains("is not a VGG"), "{message}");
    }

    #[test]
    fn torchvision_vggs_are_recognised() {
        for config in [Config::A, Config::B, Config::D, Config::E] {
            let spec = ModelSpec::paper(config);
            assert_eq!(infer_spec(&shaped_like(&spec), "tv").unwrap(), spec);
        }
        let meta = torchvision_meta(&ModelSpec::paper(Config::D));
        assert_eq!(meta.train_scale, [256, 256]);
        assert_eq!(meta.class_names, imagenet::class_names());
    }

    #[test]
    fn small_and_one_by_one_configs_are_recognised() {
        for config in Config::ALL {
            let spec = ModelSpec {
                config,
                classes: 7,
                input_size: 64,
                width_divisor: 16,
            };
            assert_eq!(infer_spec(&shaped_like(&spec), "small").unwrap(), spec);
        }
        let names = torchvision_meta(&ModelSpec {
            classes: 7,
            ..ModelSpec::paper(Config::A)
        })
        .class_names;
        assert_eq!(names.len(), 7);
        assert_eq!(
            names[6], "class 6",
            "only 1000 classes are taken for ImageNet's"
        );
    }

    #[test]
    fn foreign_files_are_errors_that_say_why() {
        let mut w = shaped_like(&ModelSpec::paper(Config::D));
        w.tensors.remove("features.28.weight");
        let message = infer_spec(&w, "odd.safetensors").unwrap_err().to_string();
        assert!(message.contains("match none"), "{message}");
        let message = infer_spec(&WeightFile::default(), "empty.safetensors")
            .unwrap_err()
            .to_string();
        assert!(message.contains("holds no tensors"), "{message}");
        let mut w = shaped_like(&ModelSpec::paper(Config::D));
        w.tensors.remove("features.0.weight");
        let message = infer_spec(&w, "odd.safetensors").unwrap_err().to_string();
        assert!(
            message.contains("no 'features.0.weight' tensor"),
            "{message}"
        );
    }
}
