//! Plans built past the GPU's memory, or rejected by it, are errors that name the fix,
//! not panics in wgpu's default error handler.
//!
//! An instance whose memory budget threshold is 0% refuses every buffer with an
//! out-of-memory error before allocating anything, so the out-of-memory tests use no
//! memory. wgpu checks that budget only where the driver reports one (Vulkan with
//! VK_EXT_memory_budget, DX12): on others (lavapipe of LLVM 15 among them) those tests
//! say so and skip. A rejected build (a validation error) is tested everywhere.

use crate::harness::{gpu, rng};
use crate::{small, weights};
use vgg_wgpu::error::Error;
use vgg_wgpu::gpu::error_scope::{build_in_error_scopes, BuildNames};
use vgg_wgpu::graph::{DensePlan, EvalPlan, Network, ParamSet};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::Config;

/// A device on the tests' adapter whose every buffer creation runs out of memory.
fn device_without_memory() -> GpuContext {
    let info = &gpu().adapter_info;
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: info.backend.into(),
        memory_budget_thresholds: wgpu::MemoryBudgetThresholds {
            for_resource_creation: Some(0),
            for_device_loss: None,
        },
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = pollster::block_on(instance.enumerate_adapters(info.backend.into()))
        .into_iter()
        .find(|a| a.get_info() == *info)
        .expect("the tests' adapter, from a second instance");
    pollster::block_on(GpuContext::from_adapter(adapter)).expect("a device")
}

fn names() -> BuildNames<'static> {
    BuildNames {
        op: "test plan",
        size: "one buffer".into(),
        fix: "ask for less",
    }
}

fn storage_buffer(ctx: &GpuContext, size: u64) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("test buffer"),
        size,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    })
}

fn build(ctx: &GpuContext, size: u64) -> vgg_wgpu::error::Result<wgpu::Buffer> {
    pollster::block_on(build_in_error_scopes(&ctx.device, names(), || {
        Ok(storage_buffer(ctx, size))
    }))
}

/// Whether `ctx` enforces its memory budget; prints why the caller skips when not.
fn enforces_budget(ctx: &GpuContext, built: bool) -> bool {
    if built {
        println!(
            "skipped: '{}' reports no memory budget, so a 0% budget cannot refuse a buffer",
            ctx.describe()
        );
    }
    !built
}

#[test]
fn a_buffer_past_the_budget_is_out_of_memory_with_the_fix() {
    let ctx = device_without_memory();
    let built = build(&ctx, 256);
    if !enforces_budget(&ctx, built.is_ok()) {
        return;
    }
    match built {
        Err(Error::OutOfMemory { what, fix }) => {
            assert_eq!(
                (what.as_str(), fix.as_str()),
                ("test plan: one buffer", "ask for less")
            );
        }
        Err(e) => panic!("expected out of memory, got: {e}"),
        Ok(_) => unreachable!("checked above"),
    }
}

#[test]
fn a_buffer_the_device_rejects_is_a_gpu_error() {
    let ctx = gpu();
    let message = match build(ctx, ctx.limits.max_buffer_size + 4) {
        Err(Error::Gpu { op, message }) => format!("{op}: {message}"),
        Err(e) => panic!("expected a validation error, got: {e}"),
        Ok(_) => panic!("a buffer over max_buffer_size was created"),
    };
    assert!(message.starts_with("test plan: the plan:"), "{message}");
}

#[test]
fn a_build_the_gpu_accepts_returns_what_it_built() {
    let buffer = build(gpu(), 256).expect("a 256-byte buffer");
    assert_eq!(buffer.size(), 256);
}

/// Both evaluation plans of a small network on `ctx` with `params`.
fn plan_errors(ctx: &GpuContext, params: &ParamSet) -> [(Option<Error>, &'static str); 2] {
    let spec = small(Config::A, 32, 7);
    let net = Network::new(&spec, 0.5);
    let plain = pollster::block_on(EvalPlan::new(ctx, &net, params, 2));
    let dense = pollster::block_on(DensePlan::new(ctx, &net, params, 1, 64, 48));
    [
        (plain.err(), "evaluation plan"),
        (dense.err(), "dense evaluation plan"),
    ]
}

#[test]
fn evaluation_plans_past_the_budget_name_the_options_that_ask_for_less() {
    let ctx = device_without_memory();
    let spec = small(Config::A, 32, 7);
    // The parameters' own buffers run out of memory too: catch that here, so that the
    // plans below are what must catch theirs.
    let out_of_memory = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let w = weights(&spec, &mut rng("evaluation plans past the budget"));
    let params = ParamSet::upload(&ctx, &spec, &w, "test").unwrap();
    pollster::block_on(validation.pop());
    let refused = pollster::block_on(out_of_memory.pop()).is_some();
    if !enforces_budget(&ctx, !refused) {
        return;
    }
    let options = ["--multi-crop", "--scales"];
    for ((error, plan), option) in plan_errors(&ctx, &params).into_iter().zip(options) {
        match error {
            Some(e @ Error::OutOfMemory { .. }) => {
                let message = e.to_string();
                assert!(message.starts_with(plan), "{message}");
                assert!(
                    message.contains("does not fit in the GPU's memory"),
                    "{message}"
                );
                assert!(message.contains(option), "{message}");
            }
            other => panic!(
                "{plan}: expected out of memory, got {:?}",
                other.map(|e| e.to_string())
            ),
        }
    }
}
