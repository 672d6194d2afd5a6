//! The device the launchers run on: a [`GpuDevice`] with the [`KernelSettings`] chosen
//! for its adapter. Everything above the kernels holds one of these.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use super::settings::KernelSettings;
use crate::error::Result;
use crate::gpu::tensor::new_storage_buffer;
use crate::gpu::{AdapterChoice, GpuDevice};

/// A device and the kernel variants and tile shapes the launchers use on it. It reads
/// as its [`GpuDevice`] (`ctx.device`, `ctx.queue`, `ctx.limits`, ...).
pub struct GpuContext {
    gpu: GpuDevice,
    /// Chosen from the adapter when the device opens; tests change them to run every
    /// variant.
    pub settings: KernelSettings,
    /// Working buffers that kernels write and read within one launch sequence, one per
    /// purpose, shared by every plan on the device (see [`GpuContext::scratch`]).
    scratch: Mutex<HashMap<&'static str, wgpu::Buffer>>,
}

impl GpuContext {
    /// The device with the settings its adapter calls for.
    pub fn from_device(gpu: GpuDevice) -> GpuContext {
        let settings = KernelSettings::for_adapter(&gpu.adapter_info, gpu.features);
        GpuContext {
            gpu,
            settings,
            scratch: Mutex::default(),
        }
    }

    /// A storage buffer of at least `bytes` for `purpose`, the same one for every caller
    /// until a larger one is asked for (then a new one; launches built earlier keep the
    /// old). For copies that a convolution writes and then reads in consecutive launches
    /// and that nothing reads afterwards (the SwiftShader kernels' re-laid-out operands):
    /// the queue runs launches one after another, so every layer of every plan can share
    /// one, instead of each holding its own for the plan's lifetime.
    pub fn scratch(&self, purpose: &'static str, bytes: u64) -> wgpu::Buffer {
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        match scratch.get(purpose) {
            Some(buffer) if buffer.size() >= bytes => buffer.clone(),
            _ => {
                let buffer = new_storage_buffer(&self.gpu, purpose, bytes);
                scratch.insert(purpose, buffer.clone());
                buffer
            }
        }
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
