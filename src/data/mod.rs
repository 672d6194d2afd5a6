//! The data side of training, all on the CPU: data sets, the paper's augmentation, and
//! batches for the GPU.
//!
//! ```text
//! Dataset ──image(i)──▶ RgbImage ──Transform──▶ (3, crop, crop) f32 ──Loader──▶ Batch (N, 3, crop, crop)
//! ```
//!
//! - [`dataset`]: the [`Dataset`] trait every source implements, and [`Split`].
//! - [`synthetic`]: the built-in ten-class data set, drawn from a seed.
//! - [`image_folder`]: ImageNet's `train/<class>/*.jpg` layout.
//! - [`cifar`]: CIFAR-10's binary batches.
//! - [`image_list`]: images held in memory (the page's examples of a user's classes).
//! - [`colour_stats`]: the training set's mean RGB and colour principal components
//!   ([`eigen`]: the 3×3 eigen solver behind them).
//! - [`augment`]: scale jittering, random crops, flips, colour noise; the eval transform.
//! - [`preprocessing`]: mean/std normalisation, stored with a trained model.
//! - [`loader`]: deterministic batches, prepared ahead by worker threads (`prefetch`).
//! - [`rng`]: the keyed random generator behind every random choice above.

pub mod augment;
pub mod cifar;
pub mod colour_stats;
pub mod dataset;
pub mod eigen;
pub mod image_folder;
pub mod image_list;
pub mod loader;
#[cfg(not(target_arch = "wasm32"))]
mod prefetch;
pub mod preprocessing;
pub mod rng;
pub mod synthetic;

pub use augment::{AugmentParams, ColourNoise, EvalTransform, TrainAugment, Transform};
pub use cifar::Cifar10;
pub use colour_stats::ColourStats;
pub use dataset::{Dataset, Split, Splits};
pub use image::RgbImage;
pub use image_folder::ImageFolder;
pub use image_list::ImageList;
pub use loader::{cores, epoch_order, Batch, Batches, Loader, LoaderConfig};
pub use preprocessing::{Given, Preprocessing};
pub use synthetic::SyntheticDataset;
