//! Conv2d launchers. Oracle: `src/oracle/conv.rs`.
//!
//! - `convolve.rs`: forward and input gradient, one convolution kernel family
//!   (`shaders/conv2d_tiled.wgsl` on adapters that are not CPUs, `shaders/conv2d.wgsl`,
//!   `shaders/conv2d_subgroup.wgsl`, SwiftShader's lanes and Winograd kernels);
//! - `weight_gradient.rs`: the weight and bias gradient pass and the reduce of its split
//!   rows (`shaders/conv2d_backward_weight_reduce.wgsl`);
//! - `weight_kernel.rs`: which kernel that pass runs (`shaders/conv2d_backward_weight_tiled.wgsl`
//!   on adapters that are not CPUs, `shaders/conv2d_backward_weight.wgsl`,
//!   `shaders/conv2d_backward_weight_subgroup.wgsl`), and its block shape;
//! - `row_split.rs`: how the weight gradient splits its rows into parts;
//! - `windows.rs`: an unpadded convolution's windows as rows and rows back into the map
//!   (`shaders/conv_windows.wgsl`), for running one as a fully connected layer.
//!
//! # Shapes
//! x (N, C, H, W), weight (O, C, K, K), bias (O), y (N, O, OH, OW), stride 1,
//! OH = H + 2·pad − K + 1. Activations may be chunked along N, the weight along O.

mod convolve;
mod row_split;
mod weight_gradient;
mod weight_kernel;
pub mod windows;

pub use convolve::{conv2d_backward_data, conv2d_forward, ConvUse, TILE_GROUPS};
pub use weight_gradient::{conv2d_backward_weight, conv2d_backward_weight_accumulate};

use super::layout::UniformLayout;

/// The parameter structs of this module, for the check against the WGSL structs they
/// mirror (see [`super::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    let mut layouts = convolve::uniform_layouts();
    layouts.extend(weight_gradient::uniform_layouts());
    layouts.extend(windows::uniform_layouts());
    layouts
}
