//! Adapter choice, and the device with the adapter's real limits and its pipelines.

use super::pipeline::{PipelineCache, Shader};
use crate::error::{Error, Result};

/// Which adapter to open. Empty fields mean "the first adapter wgpu prefers".
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    /// `vulkan`, `metal`, `dx12`, `gl`, `webgpu`, or `None` for the primary backends
    /// (Vulkan, Metal, DX12, the browser's WebGPU). GL is opt-in: it is the least capable
    /// and its probe is noisy on machines without a display.
    pub backend: Option<String>,
    /// Case-insensitive substring of the adapter's name.
    pub name_contains: Option<String>,
}

impl AdapterChoice {
    pub fn backends(&self) -> Result<wgpu::Backends> {
        match self
            .backend
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") => Ok(wgpu::Backends::PRIMARY),
            Some("all") => Ok(wgpu::Backends::all()),
            Some("vulkan") => Ok(wgpu::Backends::VULKAN),
            Some("metal") => Ok(wgpu::Backends::METAL),
            Some("dx12") => Ok(wgpu::Backends::DX12),
            Some("gl") => Ok(wgpu::Backends::GL),
            Some("webgpu") => Ok(wgpu::Backends::BROWSER_WEBGPU),
            Some(other) => Err(Error::InvalidArgument {
                op: "adapter choice",
                message: format!(
                    "unknown backend '{other}': use one of vulkan, metal, dx12, gl, webgpu, all"
                ),
            }),
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = &self.backend {
            parts.push(format!("backend '{b}'"));
        }
        if let Some(n) = &self.name_contains {
            parts.push(format!("name containing '{n}'"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" matching {}", parts.join(" and "))
        }
    }
}

/// Optional features the engine uses when the adapter has them.
const WANTED_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::SHADER_F16);

/// An open device: its queue, the adapter's real limits and features, and its compiled
/// pipelines. (The kernel variants chosen for it are in [`crate::kernels::GpuContext`].)
pub struct GpuDevice {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    /// Largest buffer a tensor chunk may use, in bytes: the smaller of the storage
    /// binding limit and the buffer size limit. Tests lower it to force splitting.
    pub binding_limit: u64,
    /// The instance the adapter came from, kept as long as the device. (Chromium's "A
    /// valid external Instance reference no longer exists" was not about this one: it
    /// follows a crash of the GPU process, see `kernels::settings::KernelSettings::for_adapter`.)
    _instance: Option<wgpu::Instance>,
    pipelines: PipelineCache,
}

/// An instance that probes only `backends`. Buffer creation past 90% of the memory
/// budget the driver reports fails with an out-of-memory error (which plans turn into
/// advice) instead of pushing the system into swapping or a lost device.
pub fn new_instance(backends: wgpu::Backends) -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        memory_budget_thresholds: wgpu::MemoryBudgetThresholds {
            for_resource_creation: Some(90),
            for_device_loss: None,
        },
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

/// Every adapter of `backends` (native only: the browser offers one).
#[cfg(not(target_arch = "wasm32"))]
pub async fn list_adapters(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    new_instance(backends).enumerate_adapters(backends).await
}

impl GpuDevice {
    /// Opens the chosen adapter with its real limits and the optional features it has.
    pub async fn new(choice: &AdapterChoice) -> Result<GpuDevice> {
        let (instance, adapter) = choose_adapter(choice).await?;
        let mut ctx = Self::from_adapter(adapter).await?;
        ctx._instance = Some(instance);
        Ok(ctx)
    }

    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<GpuDevice> {
        let adapter_info = adapter.get_info();
        let features = adapter.features() & WANTED_FEATURES;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("vgg-wgpu"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::RequestDevice {
                adapter: adapter_info.name.clone(),
                reason: e.to_string(),
            })?;
        let binding_limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        Ok(GpuDevice {
            device,
            queue,
            adapter_info,
            limits,
            features,
            binding_limit,
            _instance: None,
            pipelines: PipelineCache::default(),
        })
    }

    /// The compute pipeline for `entry` in `shader` with the given values of its
    /// `override` constants, compiled once per context and set of values.
    pub fn pipeline(
        &self,
        shader: &Shader,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> wgpu::ComputePipeline {
        self.pipelines.get(&self.device, shader, entry, constants)
    }

    /// One line naming the adapter: "name (backend, device type)".
    pub fn describe(&self) -> String {
        describe_adapter(&self.adapter_info)
    }
}

/// Devices for data-parallel training, from `which`: `all` — every adapter of the kind
/// the default choice opens (all discrete GPUs when there are any), narrowed by the
/// choice's name filter — or indices into `vgg-wgpu info`'s list such as `0,1`. An index
/// may repeat: each listing opens a device of its own, even on one adapter.
#[cfg(not(target_arch = "wasm32"))]
pub async fn open_devices(choice: &AdapterChoice, which: &str) -> Result<Vec<GpuDevice>> {
    let backends = choice.backends()?;
    let adapters = list_adapters(backends).await;
    let bad = |message: String| Error::InvalidArgument {
        op: "--devices",
        message,
    };
    let indices: Vec<usize> = match which.trim() {
        "all" => {
            let (_, preferred) = choose_adapter(choice).await?;
            let kind = preferred.get_info().device_type;
            let wanted = choice.name_contains.as_deref().map(str::to_ascii_lowercase);
            (0..adapters.len())
                .filter(|&i| {
                    let info = adapters[i].get_info();
                    info.device_type == kind
                        && wanted
                            .as_ref()
                            .is_none_or(|w| info.name.to_ascii_lowercase().contains(w))
                })
                .collect()
        }
        list => list
            .split(',')
            .map(|part| {
                let i: usize = part.trim().parse().map_err(|_| {
                    bad(format!(
                        "'{part}' is not an adapter index; give `all` or indices from `vgg-wgpu info`, e.g. 0,1"
                    ))
                })?;
                if i >= adapters.len() {
                    return Err(bad(format!(
                        "adapter {i} does not exist: `vgg-wgpu info` lists {} adapter(s), numbered from 0",
                        adapters.len()
                    )));
                }
                Ok(i)
            })
            .collect::<Result<_>>()?,
    };
    if indices.is_empty() {
        return Err(no_adapter(choice).await);
    }
    let mut devices = Vec::new();
    for i in indices {
        // A fresh instance per device, so that repeated indices give separate devices.
        let instance = new_instance(backends);
        let adapter = instance
            .enumerate_adapters(backends)
            .await
            .into_iter()
            .nth(i)
            .ok_or_else(|| bad(format!("adapter {i} disappeared while opening devices")))?;
        let mut ctx = GpuDevice::from_adapter(adapter).await?;
        ctx._instance = Some(instance);
        devices.push(ctx);
    }
    Ok(devices)
}

pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

async fn choose_adapter(choice: &AdapterChoice) -> Result<(wgpu::Instance, wgpu::Adapter)> {
    let backends = choice.backends()?;
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(wanted) = &choice.name_contains {
        let wanted = wanted.to_ascii_lowercase();
        let instance = new_instance(backends);
        let adapter = instance
            .enumerate_adapters(backends)
            .await
            .into_iter()
            .find(|a| a.get_info().name.to_ascii_lowercase().contains(&wanted));
        return match adapter {
            Some(adapter) => Ok((instance, adapter)),
            None => Err(no_adapter(choice).await),
        };
    }
    let instance = new_instance(backends);
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await;
    match adapter {
        Ok(adapter) => Ok((instance, adapter)),
        Err(_) => Err(no_adapter(choice).await),
    }
}

/// The error for a choice that no adapter meets. It lists the adapters there are (of
/// the primary backends and the one asked for), so that a filter that matched nothing
/// is not mistaken for a machine without a driver.
async fn no_adapter(choice: &AdapterChoice) -> Error {
    #[cfg(not(target_arch = "wasm32"))]
    let found = {
        let backends = choice.backends().unwrap_or(wgpu::Backends::PRIMARY);
        list_adapters(backends | wgpu::Backends::PRIMARY)
            .await
            .iter()
            .map(|a| describe_adapter(&a.get_info()))
            .collect()
    };
    #[cfg(target_arch = "wasm32")]
    let found = Vec::new();
    Error::NoAdapter {
        filter: choice.describe(),
        found,
    }
}
