//! The VGG family of the paper's Table 1.

pub mod config;
pub mod imagenet;
pub mod infer;
pub mod meta;
pub mod params;
pub mod weight_reader;
pub mod weights;

pub use config::{Config, ConvLayer, Layer, ModelSpec, IMAGE_CHANNELS};
pub use infer::{describe, Described};
pub use meta::ModelMeta;
pub use params::{ParamInfo, ParamOwner};
pub use weights::WeightFile;
