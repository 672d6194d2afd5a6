//! Training: options, the starting point (init or checkpoint), the loop, and what it
//! writes. Checkpoints and the loop read and write files: native only. The browser
//! steps a `TrainPlan` itself (`crate::web`).
//!
//! - [`options`]: what a run is told to do; [`data_source`]: where its images come from.
//! - [`init`]: fresh weights (Section 3.1 of the paper); [`pretrained`]: a start from
//!   another network's weights (fine-tuning); [`new_classes`]: the same, for new
//!   classes taught from images in memory (the page's), on cached features ([`teaching`]).
//! - [`feature_cache`]: a frozen front's output kept per image and view, so that the
//!   layers being taught train on it without running the front again;
//!   `cached_features`: a run's caches (`--cache-features`), kept in its folder as
//!   [`feature_file`]; `run_data`: the loop's batches, from images or those caches.
//! - `setup`: from options to a run ready to step; [`trainer`]: the loop itself;
//!   `unreadable_images`: the training images it could not read, listed once.
//! - [`schedule`]: the paper's learning-rate schedule; [`rising_loss`]: the warning
//!   for a rate too high.
//! - [`checkpoint`], [`metrics`], [`run_folder`]: the files a run writes;
//!   [`run_settings`]: the options a resumed run must repeat.

#[cfg(not(target_arch = "wasm32"))]
mod cached_features;
#[cfg(not(target_arch = "wasm32"))]
pub mod checkpoint;
#[cfg(not(target_arch = "wasm32"))]
pub mod data_source;
pub mod feature_cache;
#[cfg(not(target_arch = "wasm32"))]
pub mod feature_file;
pub mod feature_views;
pub mod init;
pub mod metrics;
pub mod new_classes;
#[cfg(not(target_arch = "wasm32"))]
pub mod options;
pub mod pretrained;
#[cfg(not(target_arch = "wasm32"))]
pub mod rising_loss;
#[cfg(not(target_arch = "wasm32"))]
mod run_data;
#[cfg(not(target_arch = "wasm32"))]
pub mod run_folder;
#[cfg(not(target_arch = "wasm32"))]
pub mod run_settings;
pub mod schedule;
#[cfg(not(target_arch = "wasm32"))]
mod setup;
pub mod teaching;
#[cfg(not(target_arch = "wasm32"))]
pub mod trainer;
#[cfg(not(target_arch = "wasm32"))]
mod unreadable_images;

pub use feature_cache::FeatureCache;
