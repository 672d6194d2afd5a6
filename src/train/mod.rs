// Checkpoints and the training loop read and write files: native only. The browser
// steps a `TrainPlan` itself (`crate::web`).
#[cfg(not(target_arch = "wasm32"))]
pub mod checkpoint;
pub mod init;
pub mod metrics;
pub mod schedule;
#[cfg(not(target_arch = "wasm32"))]
pub mod trainer;
