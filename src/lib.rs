//! vgg-wgpu: VGG (Simonyan & Zisserman, ICLR 2015) on a portable WebGPU compute engine.
//!
//! - [`atomic_file`]: files written whole or not at all (checkpoints, models, logs).
//! - [`data`]: data sets, the paper's augmentation, and batches (CPU only).
//! - [`distributed`]: data-parallel training across processes (MPI, feature `mpi`).
//! - [`eval`]: the paper's testing protocol: dense, multi-crop, multi-scale, ensembles.
//! - [`gpu`]: adapter and device choice, chunked tensors, async readback.
//! - [`graph`]: networks as op chains, compiled into training and inference plans.
//! - [`input_file`]: files a user gives, read only when regular and within a size cap.
//! - [`kernels`]: one launcher per WGSL shader family in `shaders/`.
//! - [`model`]: the VGG configurations of the paper's Table 1.
//! - [`oracle`]: the plain-Rust CPU reference of every op (f64 accumulation).
//! - `plot` (native only): training curves as SVG, a run's or several runs'.
//! - [`shape`]: every op's geometry and static parameters, shared by all of the above.
//! - [`terminal`]: names from a user's files with their control characters escaped.
//! - `web` (wasm32 only): the browser API behind the page in `web/`.

pub mod atomic_file;
pub mod cpu_engine;
pub mod data;
pub mod distributed;
pub mod error;
pub mod eval;
pub mod gpu;
pub mod graph;
pub mod input_file;
pub mod kernels;
pub mod model;
pub mod oracle;
#[cfg(not(target_arch = "wasm32"))]
pub mod plot;
pub mod shape;
pub mod terminal;
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
