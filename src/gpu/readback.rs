//! Reading GPU buffers back to the host: `map_async` plus a channel, never a blocking
//! wait on the web. Native builds poll the device so the callback fires; in the
//! browser the event loop does it.

use futures_intrusive::channel::shared::oneshot_channel;

use super::GpuDevice;
use crate::error::{Error, Result};

/// Copies `bytes` bytes from the start of `buffer` (which needs `COPY_SRC`) to the host.
pub async fn read_bytes(ctx: &GpuDevice, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback staging"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);

    let slice = staging.slice(..);
    let (sender, receiver) = oneshot_channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        sender.send(result).ok();
    });
    wait_for_queue(ctx)?;
    receiver
        .receive()
        .await
        .ok_or(Error::Readback {
            what: "the map callback was dropped",
            source: None,
        })?
        .map_err(map_failed)?;
    let data = slice.get_mapped_range().map_err(map_failed)?.to_vec();
    staging.unmap();
    Ok(data)
}

/// The error for a buffer that could not be mapped. wgpu gives no cause, and a lost
/// device looks the same, so the message names both.
pub fn map_failed(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Readback {
        what: "the buffer could not be mapped (the GPU device may have been lost)",
        source: Some(Box::new(e)),
    }
}

/// The error for a wait on the queue that failed.
#[cfg(not(target_arch = "wasm32"))]
fn wait_failed(e: wgpu::PollError) -> Error {
    Error::Readback {
        what: "waiting for the GPU to finish failed",
        source: Some(Box::new(e)),
    }
}

/// Native: block until submitted work is done (this also fires map callbacks).
/// Web: a no-op, the browser calls back on its own.
pub fn wait_for_queue(ctx: &GpuDevice) -> Result<()> {
    #[cfg(not(target_arch = "wasm32"))]
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(wait_failed)?;
    #[cfg(target_arch = "wasm32")]
    let _ = ctx;
    Ok(())
}

/// Native: block until the work of `submission` is done and its map callbacks have
/// fired. Web: a no-op, the browser calls back on its own.
pub fn wait_for_submission(ctx: &GpuDevice, submission: &wgpu::SubmissionIndex) -> Result<()> {
    #[cfg(not(target_arch = "wasm32"))]
    ctx.device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(submission.clone()),
            timeout: None,
        })
        .map_err(wait_failed)?;
    #[cfg(target_arch = "wasm32")]
    let _ = (ctx, submission);
    Ok(())
}
