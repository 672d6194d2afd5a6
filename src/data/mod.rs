//! The data side of training, all on the CPU: data sets, the paper's augmentation, and
//! batches for the GPU.
//!
//! ```text
//! Dataset ──image(i)──▶ RgbImage ──Transform──▶ (3, crop, crop) f32 ──Loader──▶ Batch (N, 3, crop, crop)
//! ```
//!
//! - [`dataset`]: the [`Dataset`] trait every source implements, and [`Split`].
//! - [`synthetic`]: the built-in ten-class data set, drawn from a seed.
//! - [`rng`]: the keyed random generator behind every random choice above.

pub mod dataset;
pub mod rng;
pub mod synthetic;

pub use dataset::{Dataset, Split, Splits};
pub use image::RgbImage;
pub use synthetic::SyntheticDataset;
