//! `vgg-wgpu info`: every adapter, the chosen one, its limits and features.

use vgg_wgpu::gpu::context::{describe_adapter, list_adapters};
use vgg_wgpu::gpu::AdapterChoice;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::Result;

pub fn run(choice: &AdapterChoice) -> Result<()> {
    let adapters = pollster::block_on(list_adapters(choice.backends()?));
    println!("adapters (numbered for --devices):");
    for (i, a) in adapters.iter().enumerate() {
        let info = a.get_info();
        println!(
            "  [{i}] {}  driver: {} {}",
            describe_adapter(&info),
            info.driver,
            info.driver_info
        );
    }
    let ctx = pollster::block_on(GpuContext::new(choice))?;
    println!("chosen: {}", ctx.describe());
    let l = &ctx.limits;
    println!("limits:");
    for (name, value) in [
        (
            "max_storage_buffer_binding_size",
            l.max_storage_buffer_binding_size as u64,
        ),
        ("max_buffer_size", l.max_buffer_size),
        (
            "max_compute_workgroup_storage_size",
            l.max_compute_workgroup_storage_size as u64,
        ),
        (
            "max_compute_invocations_per_workgroup",
            l.max_compute_invocations_per_workgroup as u64,
        ),
        (
            "max_compute_workgroups_per_dimension",
            l.max_compute_workgroups_per_dimension as u64,
        ),
        (
            "max_storage_buffers_per_shader_stage",
            l.max_storage_buffers_per_shader_stage as u64,
        ),
    ] {
        println!("  {name:<40} {value}");
    }
    println!("features:");
    for (name, feature) in [
        ("timestamp queries", wgpu::Features::TIMESTAMP_QUERY),
        ("subgroups", wgpu::Features::SUBGROUP),
        ("shader-f16", wgpu::Features::SHADER_F16),
    ] {
        let state = if ctx.features.contains(feature) {
            "yes"
        } else {
            "no"
        };
        println!("  {name:<40} {state}");
    }
    Ok(())
}
