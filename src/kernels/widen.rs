//! A piece of an f16 weight widened into f32: `shaders/widen_halves.wgsl`. Oracle:
//! [`crate::gpu::tensor::unpack_halves`] (the halves themselves, exactly).
//!
//! Why: a half costs SwiftShader about a dozen vector operations to decode, and
//! `linear.wgsl` decodes each weight once per tile of 4 rows. Dense evaluation's FC
//! layers at the paper's larger scales run on 8 or 18 rows (one per window position and
//! image), where decoding in the kernel made VGG-16's FC layers 2.2× slower than with f32
//! weights; widened once per pass, each half is decoded once (see
//! [`crate::kernels::settings::KernelSettings::widen_f16_weights`]).

use super::layout::{uniform_layout, UniformLayout};
use super::{shader, uniform, Launch, Shader};
use crate::kernels::GpuContext;

const WIDEN: Shader = shader!("widen_halves.wgsl");

/// Invocations of one dispatch at most; each widens pairs of halves a grid apart.
const MAX_INVOCATIONS: usize = 1 << 16;

/// Mirrors `WidenParams` in `shaders/widen_halves.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WidenParams {
    first: u32,
    count: u32,
    _pad: [u32; 2],
}

/// values[i] = the half `first + i` of `halves` (a chunk of an F16 tensor), for
/// i < `count`; `first` must be even (a word's first half), and `values` needs room
/// for `count` rounded up to even (see [`widened_bytes`]).
pub fn widen_halves(
    ctx: &GpuContext,
    halves: &wgpu::Buffer,
    first: usize,
    count: usize,
    values: &wgpu::Buffer,
) -> Launch {
    assert!(
        first.is_multiple_of(2),
        "widen_halves from half {first}: not a word's first"
    );
    let params = WidenParams {
        first: first as u32,
        count: count as u32,
        _pad: [0; 2],
    };
    Launch::new(
        ctx,
        &WIDEN,
        "widen_halves",
        &[&uniform(ctx, "widen params", &params), halves, values],
        count.div_ceil(2).min(MAX_INVOCATIONS),
    )
}

/// The bytes of a buffer that [`widen_halves`] widens `count` values into.
pub fn widened_bytes(count: usize) -> u64 {
    count.next_multiple_of(2) as u64 * 4
}

/// The parameter struct of this kernel, for the check against the WGSL struct it
/// mirrors (see [`crate::kernels::layout`]).
pub(super) fn uniform_layouts() -> Vec<UniformLayout> {
    vec![uniform_layout!(
        WidenParams,
        "widen_halves.wgsl",
        "WidenParams",
        [first, count]
    )]
}
