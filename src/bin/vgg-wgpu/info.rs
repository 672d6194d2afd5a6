//! `vgg-wgpu info`: every adapter, the chosen one, its limits and features, and the
//! cooperative matrix shapes it offers.

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
    let chosen = adapters.iter().find(|a| a.get_info() == ctx.adapter_info);
    print_cooperative_matrix(chosen);
    Ok(())
}

/// What the adapter offers as cooperative matrix multiply-add (`C = A × B + C` on tiles
/// a subgroup holds together): the experimental wgpu feature that would use it, and the
/// tile shapes and types, as wgpu maps them from the driver (on Vulkan only tiles of 8
/// and 16 of f16, f32, i32, u32). The engine uses none of it yet; this says whether a
/// kernel could.
fn print_cooperative_matrix(adapter: Option<&wgpu::Adapter>) {
    let Some(adapter) = adapter else {
        println!("cooperative matrix: not known (the chosen adapter is not in the list)");
        return;
    };
    let feature = adapter
        .features()
        .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX);
    let shapes = adapter.cooperative_matrix_properties();
    println!(
        "cooperative matrix (wgpu's experimental feature: {}):",
        if feature { "yes" } else { "no" }
    );
    if shapes.is_empty() {
        println!("  none");
    }
    for p in shapes {
        let saturating = if p.saturating_accumulation {
            ", saturating"
        } else {
            ""
        };
        println!(
            "  M×N×K {}×{}×{}  A, B {:?}  C {:?}{saturating}",
            p.m_size, p.n_size, p.k_size, p.ab_type, p.cr_type
        );
    }
}
