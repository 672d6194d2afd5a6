//! WGSL shaders compiled into the binary and the cache of their compute pipelines.

use std::collections::HashMap;
use std::sync::Mutex;

/// A WGSL source file compiled into the binary (see `kernels::shader!`).
pub struct Shader {
    pub name: &'static str,
    pub wgsl: &'static str,
}

/// A pipeline: shader file, entry point, and its override constants (name, value bits).
type PipelineKey = (&'static str, &'static str, Vec<(&'static str, u64)>);

/// Compute pipelines of one device, each compiled once.
#[derive(Default)]
pub struct PipelineCache {
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
}

impl PipelineCache {
    /// The compute pipeline for `entry` in `shader` with the given values of its
    /// `override` constants, compiled on `device` the first time it is asked for.
    pub fn get(
        &self,
        device: &wgpu::Device,
        shader: &Shader,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> wgpu::ComputePipeline {
        let key = (
            shader.name,
            entry,
            constants.iter().map(|&(n, v)| (n, v.to_bits())).collect(),
        );
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(shader.name),
                    source: wgpu::ShaderSource::Wgsl(shader.wgsl.into()),
                });
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        ..Default::default()
                    },
                    cache: None,
                })
            })
            .clone()
    }
}
