//! The VGG family of the paper's Table 1.

pub mod config;

pub use config::{Config, Layer, ModelSpec};
