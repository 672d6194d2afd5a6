//! Building a plan inside wgpu's error scopes. A buffer past the memory budget (see
//! [`super::context::new_instance`]) fails with an out-of-memory error, and whatever
//! used it afterwards with validation errors; outside a scope, wgpu's default handler
//! panics on either. Here the out-of-memory becomes advice and the rest an error.

use crate::error::{Error, Result};

/// What a plan build is called in the errors it can end in.
pub struct BuildNames<'a> {
    /// The plan: "evaluation plan".
    pub op: &'static str,
    /// What it asks memory for: "a batch of 100 images".
    pub size: String,
    /// How to ask for less, naming the options that do.
    pub fix: &'a str,
}

/// Runs `build` (which creates the plan's buffers, bind groups and pipelines on
/// `device`) and returns its result, unless the GPU caught an error meanwhile: an
/// out-of-memory gives [`Error::OutOfMemory`] (ahead of the validation errors it
/// causes), a validation error [`Error::Gpu`].
pub async fn build_in_error_scopes<T>(
    device: &wgpu::Device,
    names: BuildNames<'_>,
    build: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out_of_memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let built = build();
    let oom = out_of_memory.pop().await;
    let invalid = validation.pop().await;
    if oom.is_some() {
        return Err(Error::OutOfMemory {
            what: format!("{}: {}", names.op, names.size),
            fix: names.fix.into(),
        });
    }
    if let Some(e) = invalid {
        return Err(Error::Gpu {
            op: names.op,
            message: format!("the plan: {e}"),
        });
    }
    built
}
