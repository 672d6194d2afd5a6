//! What a weight file says about its network, stored as JSON in the safetensors
//! metadata under [`ModelMeta::KEY`]: configuration, classes and their names, and the
//! preprocessing its inputs need.

use serde::{Deserialize, Serialize};

use super::config::ModelSpec;
use super::weights::WeightFile;
use crate::data::{Given, Preprocessing};
use crate::error::{Error, Result};
use crate::input_file::{self, InputKind};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// "A", "A-LRN", "B", "C", "D" or "E".
    pub config: String,
    pub classes: usize,
    pub input_size: usize,
    pub width_divisor: usize,
    pub class_names: Vec<String>,
    pub preprocessing: Preprocessing,
    /// The training scale range [S_min, S_max] (equal for single-scale training).
    pub train_scale: [u32; 2],
}

impl ModelMeta {
    pub const KEY: &'static str = "vgg_wgpu.model";

    pub fn new(
        spec: &ModelSpec,
        class_names: Vec<String>,
        preprocessing: Preprocessing,
        train_scale: [u32; 2],
    ) -> ModelMeta {
        ModelMeta {
            config: spec.config.name().to_string(),
            classes: spec.classes,
            input_size: spec.input_size,
            width_divisor: spec.width_divisor,
            class_names,
            preprocessing,
            train_scale,
        }
    }

    pub fn spec(&self) -> Result<ModelSpec> {
        let spec = ModelSpec {
            config: self.config.parse()?,
            classes: self.classes,
            input_size: self.input_size,
            width_divisor: self.width_divisor,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The metadata of `weights`, or None when the file has none (e.g. torchvision's).
    /// Its preprocessing is checked: a file cannot bring one that divides by zero.
    pub fn read(weights: &WeightFile, origin: &str) -> Result<Option<ModelMeta>> {
        let Some(json) = weights.metadata.get(Self::KEY) else {
            return Ok(None);
        };
        let meta: ModelMeta = serde_json::from_str(json).map_err(|e| Error::WeightFormat {
            path: origin.to_string(),
            message: format!("has unreadable '{}' metadata: {e}", Self::KEY),
            source: Box::new(e),
        })?;
        meta.preprocessing.check(Given::Metadata(origin))?;
        Ok(Some(meta))
    }

    pub fn write(&self, weights: &mut WeightFile) {
        let json = serde_json::to_string(self).expect("metadata serialises");
        weights.metadata.insert(Self::KEY.to_string(), json);
    }
}

/// Class names from a text file, one per line in the model's class order (blank lines
/// ignored); exactly `classes` of them.
pub fn read_class_names(path: &std::path::Path, classes: usize) -> Result<Vec<String>> {
    let text = input_file::read_to_string(path, InputKind::Text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        what: "cannot read the class names file".into(),
        source,
    })?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != classes {
        return Err(Error::Data {
            path: path.to_path_buf(),
            message: format!(
                "has {} class names but the model has {classes} classes; give one name per line, in the model's class order",
                names.len()
            ),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod class_names_tests {
    use super::read_class_names;

    #[test]
    fn a_names_file_gives_one_name_per_line_and_must_match_the_classes() {
        let path = std::env::temp_dir().join(format!("vgg-wgpu-names-{}.txt", std::process::id()));
        std::fs::write(&path, "tench\n goldfish \n\nshark\n").unwrap();
        assert_eq!(
            read_class_names(&path, 3).unwrap(),
            vec!["tench", "goldfish", "shark"]
        );
        let error = read_class_names(&path, 1000).unwrap_err().to_string();
        assert!(
            error.contains("has 3 class names but the model has 1000"),
            "{error}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
