//! What a weight file says about its network, stored as JSON in the safetensors
//! metadata under [`ModelMeta::KEY`]: configuration, classes and their names, and the
//! preprocessing its inputs need.

use serde::{Deserialize, Serialize};

use super::config::ModelSpec;
use super::weights::WeightFile;
use crate::data::Preprocessing;
use crate::error::{Error, Result};

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
    pub fn read(weights: &WeightFile, origin: &str) -> Result<Option<ModelMeta>> {
        match weights.metadata.get(Self::KEY) {
            None => Ok(None),
            Some(json) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| Error::WeightFile {
                    path: origin.to_string(),
                    message: format!("has unreadable '{}' metadata: {e}", Self::KEY),
                }),
        }
    }

    pub fn write(&self, weights: &mut WeightFile) {
        let json = serde_json::to_string(self).expect("metadata serialises");
        weights.metadata.insert(Self::KEY.to_string(), json);
    }
}
