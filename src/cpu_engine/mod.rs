//! Dense evaluation on the CPU itself, for adapters that are CPUs: on the browser's
//! fallback WebGPU adapter (SwiftShader) a VGG-16 pass takes 5–7 s in the page, and this
//! engine, plain Rust compiled to wasm with simd128 on one core, takes about 1 s
//! (BENCHMARKS.md, "The page on a CPU adapter"). The page classifies with it when its
//! adapter is a CPU; training stays on WebGPU.
//!
//! - [`winograd`]: 3×3 convolutions with padding 1 (every VGG conv layer) by F(4×4, 3×3),
//!   the GPU's inference algorithm, its products by [`matmul`].
//! - [`dot`]: every other convolution (dense evaluation's FC layers, config C's 1×1) as
//!   rows of windows times the weight matrix.
//! - [`dense`]: a whole network's dense evaluation, as [`crate::graph::DensePlan`]; the
//!   ops without a fast path here (pools, LRN) run their CPU reference.
//!
//! Long work is cut into pieces with a [`Pause`] after each (natively the longest is
//! 20–30 ms: `bench dense --cpu-engine`), where the page gives the browser its turn once
//! 10 ms have passed.

pub mod dense;
pub mod dot;
pub mod matmul;
pub mod winograd;

pub use dense::{CpuDense, CpuModel};

use std::future::Future;

/// What runs between chunks of work: the page yields to the browser's event loop.
pub trait Pause {
    fn pause(&mut self) -> impl Future<Output = ()>;
}

/// No pause at all: for callers with nothing else to run (the CLI, tests).
pub struct NoPause;

impl Pause for NoPause {
    fn pause(&mut self) -> impl Future<Output = ()> {
        std::future::ready(())
    }
}
