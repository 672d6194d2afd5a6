//! The device the launchers run on: a [`GpuDevice`] with the [`KernelSettings`] chosen
//! for its adapter. Everything above the kernels holds one of these.

use std::ops::{Deref, DerefMut};

use super::settings::KernelSettings;
use crate::error::Result;
use crate::gpu::{AdapterChoice, GpuDevice};

/// A device and the kernel variants and tile shapes the launchers use on it. It reads
/// as its [`GpuDevice`] (`ctx.device`, `ctx.queue`, `ctx.limits`, ...).
pub struct GpuContext {
    gpu: GpuDevice,
    /// Chosen from the adapter when the device opens; tests change them to run every
    /// variant.
    pub settings: KernelSettings,
}

impl GpuContext {
    /// The device with the settings its adapter calls for.
    pub fn from_device(gpu: GpuDevice) -> GpuContext {
        let settings = KernelSettings::for_adapter(&gpu.adapter_info, gpu.features);
        GpuContext { gpu, settings }
    }

    /// Opens the chosen adapter (see [`GpuDevice::new`]).
    pub async fn new(choice: &AdapterChoice) -> Result<GpuContext> {
        Ok(GpuContext::from_device(GpuDevice::new(choice).await?))
    }

    /// Opens `adapter` (see [`GpuDevice::from_adapter`]).
    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<GpuContext> {
        Ok(GpuContext::from_device(
            GpuDevice::from_adapter(adapter).await?,
        ))
    }

    /// The devices for data-parallel training (see [`crate::gpu::context::open_devices`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub async fn open_devices(choice: &AdapterChoice, which: &str) -> Result<Vec<GpuContext>> {
        let devices = crate::gpu::context::open_devices(choice, which).await?;
        Ok(devices.into_iter().map(GpuContext::from_device).collect())
    }
}

impl Deref for GpuContext {
    type Target = GpuDevice;

    fn deref(&self) -> &GpuDevice {
        &self.gpu
    }
}

impl DerefMut for GpuContext {
    fn deref_mut(&mut self) -> &mut GpuDevice {
        &mut self.gpu
    }
}
