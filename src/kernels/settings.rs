//! Which kernel variants and tile shapes the launchers use on a device: chosen from the
//! adapter when the device opens, changed by tests to run every variant.

use std::env;

/// The launchers' choices for one device (held by its [`super::GpuContext`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSettings {
    /// Rows of the target each invocation of the fallback conv kernel (forward and input
    /// gradient) computes, the shader's `TILE_H` override: 2, or 1 on SwiftShader (see
    /// [`KernelSettings::for_adapter`]).
    pub conv_tile_rows: u32,
    /// Whether kernels may use subgroup operations: the adapter has them, with
    /// subgroups of at least 8 invocations (what the subgroup kernels assume), it is
    /// not SwiftShader (whose compiler the wide subgroup tiles would overwhelm, as the
    /// two-row tiles did), and `VGG_WGPU_NO_SUBGROUPS` is not set.
    pub subgroups: bool,
    /// A fixed tile shape (rows, target channels) for the subgroup conv kernel instead
    /// of the autotuner's choice.
    pub conv_tile: Option<(u32, u32)>,
    /// Whether the conv forward and input gradient that would run `conv2d.wgsl` run
    /// `conv2d_lanes.wgsl` instead: on SwiftShader, in a browser without a GPU and
    /// natively. (No subgroup kernel runs there: wgpu 30's WebGPU backend does not
    /// request a browser's `subgroups` feature, and natively a kernel sharing filter
    /// values across SwiftShader's 4-lane subgroups ran VGG-16's conv layers no faster
    /// than this one, so it was removed.) Its invocations are laid out for SwiftShader's 4-lane
    /// SIMD groups and read with atomic loads from a padded copy of the source and a
    /// re-laid-out copy of the filters, so that every load takes one of SwiftShader's
    /// fast paths: about 1.4× `conv2d.wgsl` per layer natively on a calm machine, forward
    /// and input gradient, and a VGG-16 pass in the page about 1.8× faster on a busy one
    /// (BENCHMARKS.md, "SwiftShader: conv2d_lanes.wgsl"). Where a copy would not fit
    /// the binding limit, or the layout would waste work (see `conv_ignore_speed_rules`),
    /// `conv2d.wgsl` runs. Any adapter computes the same results with it (the tests run
    /// it on lavapipe); it was written and measured for SwiftShader only.
    pub conv_lanes: bool,
    /// Whether convolutions (forward, input gradient, weight gradient) run the
    /// workgroup-tiled implicit-GEMM kernels (`conv2d_tiled.wgsl`,
    /// `conv2d_backward_weight_tiled.wgsl`): on every adapter that is not a CPU, so also
    /// on a browser's adapter that reports its type as other or unknown, unless
    /// `VGG_WGPU_NO_TILES` is set. They stage tiles of the filter and the source in
    /// workgroup memory, which a GPU serves from on-chip memory; on CPU adapters that
    /// memory is ordinary memory behind barriers, and the subgroup and lanes kernels
    /// are faster there. They need no subgroups.
    pub conv_tiles: bool,
    /// A fixed `GROUP_T` (invocations along the target channels: 4, 8 or 16) for the
    /// tiled kernels instead of the autotuner's choice; `VGG_WGPU_TILE_GROUP` sets it too.
    pub conv_tile_group: Option<u32>,
    /// Run `conv2d_lanes.wgsl` (with `conv_lanes`) and Winograd's convolution (with
    /// `conv_winograd`) wherever their operands fit the binding limit, also where the
    /// launcher would choose a direct kernel as faster (few tiles, few target or source
    /// channels). For the tests, which run them on every shape.
    pub conv_ignore_speed_rules: bool,
    /// Whether the 3×3 forward convolutions of inference (evaluation, classification,
    /// features: nothing trained from the result, see `conv::ConvUse`) run Winograd's
    /// F(4×4, 3×3) instead of a direct kernel: on SwiftShader, where the multiply-adds
    /// are the cost and the transforms cheap beside them. 36 multiply-adds per 4×4
    /// tile and channel pair instead of 144, with the products laid out and loaded as
    /// `conv2d_lanes.wgsl`'s: VGG-16's 3×3 layers 3-4.5× faster natively, the first
    /// (3 source channels) excepted. The rounding error is about 4× the direct sum's
    /// (8.3e-7 relative over 512 channels, tests/kernels/long_sums.rs), which no
    /// classification notices but over PyTorch's bound for training's sums (the same
    /// tests), so training never uses it. On by default on
    /// SwiftShader only (without subgroups); the tests turn it on elsewhere.
    pub conv_winograd: bool,
    /// Whether the linear layer's forward pass on one row (one image classified) runs
    /// `linear_lanes.wgsl` where no subgroup kernel runs: its invocations laid out for
    /// SwiftShader's 4-lane SIMD groups, every load sequential across them (the fast path
    /// of SwiftShader's atomic loads), where `linear.wgsl` gathers lane by lane. On
    /// SwiftShader only; the tests run it elsewhere.
    pub linear_lanes: bool,
    /// Whether a linear forward pass over f16 weights on more rows than one tile of
    /// `linear.wgsl` (4) first widens the weight into f32, a piece of outputs at a time
    /// (`kernels::widen`), instead of decoding each half once per tile of rows. On
    /// SwiftShader only, where decoding costs about a dozen vector operations: VGG-16's FC
    /// layers at Q = 288 with flip (18 rows) took 7.1 s decoding in the kernel against
    /// 3.3 s with f32 weights. GPUs decode in the kernel, where it costs little and
    /// reads half the bytes.
    pub widen_f16_weights: bool,
}

impl KernelSettings {
    /// The settings for an adapter with `features` enabled on its device.
    ///
    /// The fallback conv tile height is 1 on SwiftShader, else 2. SwiftShader's Subzero
    /// compiler needs minutes and over 10 GB of memory for the two-row conv kernel (128
    /// accumulators live across its loops): in Chromium the GPU process dies, the page
    /// loses its device ("A valid external Instance reference no longer exists") and
    /// every pending `map_async` fails. One row (64 accumulators) compiles in under a
    /// second.
    pub fn for_adapter(info: &wgpu::AdapterInfo, features: wgpu::Features) -> KernelSettings {
        let swiftshader = is_swiftshader(info);
        let cpu = info.device_type == wgpu::DeviceType::Cpu;
        let subgroups = features.contains(wgpu::Features::SUBGROUP)
            && env::var_os("VGG_WGPU_NO_SUBGROUPS").is_none();
        KernelSettings {
            conv_tile_rows: if swiftshader { 1 } else { 2 },
            subgroups: subgroups && info.subgroup_min_size >= 8 && !swiftshader,
            conv_tile: None,
            conv_lanes: swiftshader,
            conv_tiles: !cpu && env::var_os("VGG_WGPU_NO_TILES").is_none(),
            conv_tile_group: env::var("VGG_WGPU_TILE_GROUP")
                .ok()
                .and_then(|v| v.parse().ok()),
            conv_ignore_speed_rules: false,
            conv_winograd: swiftshader,
            linear_lanes: swiftshader,
            widen_f16_weights: swiftshader,
        }
    }
}

/// SwiftShader: natively its name says so; in a browser it is Chromium's fallback
/// adapter, reported as a CPU.
fn is_swiftshader(info: &wgpu::AdapterInfo) -> bool {
    info.name.to_ascii_lowercase().contains("swiftshader")
        || (info.backend == wgpu::Backend::BrowserWebGpu
            && info.device_type == wgpu::DeviceType::Cpu)
}
