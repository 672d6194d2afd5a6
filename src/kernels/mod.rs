//! Launchers for the WGSL shaders in `shaders/`, one module per shader family.
//!
//! A launcher checks shapes, then builds every bind group and uniform buffer it needs
//! once and returns them as a list of [`Launch`]es: "plan once, run many". Recording a
//! list into a command encoder allocates nothing.

pub mod context;
pub mod conv;
pub mod dropout;
pub mod layout;
pub mod linear;
pub mod loss;
pub mod lrn;
pub mod peak;
pub mod pool;
pub mod relu;
pub mod score_map;
pub mod settings;
pub mod sgd;
pub mod tune;
pub mod widen;

use crate::gpu::Shader;
pub use context::GpuContext;

/// The [`Shader`] of a file in `shaders/`, with `shaders/prelude.wgsl` (the declarations
/// several shaders share) appended.
macro_rules! shader {
    ($file:literal) => {
        $crate::gpu::Shader {
            name: $file,
            wgsl: concat!(
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file)),
                "\n",
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/prelude.wgsl"))
            ),
        }
    };
}
pub(crate) use shader;

/// The `WEIGHTS_F16` override (`shaders/prelude.wgsl`) of a kernel that reads a weight
/// stored as `storage`.
pub(crate) fn weights_f16(storage: crate::gpu::Storage) -> (&'static str, f64) {
    (
        "WEIGHTS_F16",
        (storage == crate::gpu::Storage::F16) as u8 as f64,
    )
}

/// Invocations per workgroup of every kernel (WebGPU guarantees 256): `WORKGROUP_SIZE`
/// in `shaders/prelude.wgsl` (tests/shaders.rs checks that they agree).
pub const WORKGROUP_SIZE: u32 = 64;

/// One dispatch, ready to record.
pub struct Launch {
    pub label: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group: wgpu::BindGroup,
    pub workgroups: [u32; 3],
}

impl Launch {
    /// A 1-D launch of `invocations` threads over the buffers `buffers` bound at
    /// bindings 0, 1, 2, ... in order. The grid is folded into 2-D when it needs more
    /// than the device's workgroups per dimension; shaders rebuild the linear index
    /// with `flat_index` (`shaders/prelude.wgsl`).
    pub fn new(
        ctx: &GpuContext,
        shader: &Shader,
        entry: &'static str,
        buffers: &[&wgpu::Buffer],
        invocations: usize,
    ) -> Launch {
        Launch::with_constants(ctx, shader, entry, &[], buffers, invocations)
    }

    /// [`Launch::new`] with values for the shader's `override` constants.
    pub fn with_constants(
        ctx: &GpuContext,
        shader: &Shader,
        entry: &'static str,
        constants: &[(&'static str, f64)],
        buffers: &[&wgpu::Buffer],
        invocations: usize,
    ) -> Launch {
        let pipeline = ctx.pipeline(shader, entry, constants);
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(entry),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let groups = invocations.div_ceil(WORKGROUP_SIZE as usize) as u32;
        Launch {
            label: entry,
            pipeline,
            bind_group,
            workgroups: fold_workgroups(groups, ctx.limits.max_compute_workgroups_per_dimension),
        }
    }
}

/// Folds a 1-D count of workgroups into (x, y, 1) with x, y ≤ `max_per_dim`.
/// Shaders number the workgroups back with `workgroup_index` (`shaders/prelude.wgsl`) and
/// bounds-check the tail.
pub fn fold_workgroups(groups: u32, max_per_dim: u32) -> [u32; 3] {
    if groups <= max_per_dim {
        [groups.max(1), 1, 1]
    } else {
        let y = groups.div_ceil(max_per_dim);
        [groups.div_ceil(y), y, 1]
    }
}

/// A uniform buffer holding `params` (a `#[repr(C)]` struct of 4-byte fields, padded
/// here to WGSL's 16-byte struct alignment).
pub fn uniform<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, params: &T) -> wgpu::Buffer {
    use wgpu::util::DeviceExt;
    let mut bytes = bytemuck::bytes_of(params).to_vec();
    bytes.resize(bytes.len().div_ceil(16) * 16, 0);
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        })
}

/// Records `launches` in order into one compute pass. wgpu inserts the barriers
/// between dispatches that read what an earlier one wrote.
pub fn record(launches: &[Launch], encoder: &mut wgpu::CommandEncoder) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("vgg-wgpu"),
        timestamp_writes: None,
    });
    for l in launches {
        pass.set_pipeline(&l.pipeline);
        pass.set_bind_group(0, &l.bind_group, &[]);
        let [x, y, z] = l.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Records and submits `launches` as one command buffer.
pub fn submit(ctx: &GpuContext, launches: &[Launch]) {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    record(launches, &mut encoder);
    ctx.queue.submit([encoder.finish()]);
}

/// How [`profile`] timed the dispatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileClock {
    /// GPU timestamps written before and after each dispatch (`TIMESTAMP_QUERY`).
    Timestamps,
    /// The adapter has no timestamp queries: each dispatch submitted alone and waited
    /// for, wall clock (includes the submission's fixed cost).
    WallClock,
}

/// Seconds each of `launches` takes, run in order as they would be (each in its own
/// compute pass, so later ones see what earlier ones wrote), plus how they were timed.
#[cfg(not(target_arch = "wasm32"))]
pub fn profile<'a>(
    ctx: &GpuContext,
    launches: impl IntoIterator<Item = &'a Launch>,
) -> crate::Result<(Vec<f64>, ProfileClock)> {
    use crate::gpu::readback::{read_bytes, wait_for_queue};
    let launches: Vec<&Launch> = launches.into_iter().collect();
    if launches.is_empty() {
        return Ok((Vec::new(), ProfileClock::Timestamps));
    }
    if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        let mut seconds = Vec::with_capacity(launches.len());
        for l in launches {
            wait_for_queue(ctx)?;
            let start = std::time::Instant::now();
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            record(std::slice::from_ref(l), &mut encoder);
            ctx.queue.submit([encoder.finish()]);
            wait_for_queue(ctx)?;
            seconds.push(start.elapsed().as_secs_f64());
        }
        return Ok((seconds, ProfileClock::WallClock));
    }
    let count = 2 * launches.len() as u32;
    let mut seconds = Vec::with_capacity(launches.len());
    // A query set holds at most 4096 queries: profile in batches.
    for batch in launches.chunks(2048) {
        let count = count.min(2 * batch.len() as u32);
        let queries = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let resolved = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps"),
            size: count as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for (i, l) in batch.iter().enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(l.label),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &queries,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            pass.set_pipeline(&l.pipeline);
            pass.set_bind_group(0, &l.bind_group, &[]);
            let [x, y, z] = l.workgroups;
            pass.dispatch_workgroups(x, y, z);
        }
        encoder.resolve_query_set(&queries, 0..count, &resolved, 0);
        ctx.queue.submit([encoder.finish()]);
        let bytes = pollster::block_on(read_bytes(ctx, &resolved, count as u64 * 8))?;
        let period = ctx.queue.get_timestamp_period() as f64 * 1e-9;
        let tick = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        seconds.extend(
            bytes
                .chunks_exact(16)
                .map(|t| tick(&t[8..]).saturating_sub(tick(&t[..8])) as f64 * period),
        );
    }
    Ok((seconds, ProfileClock::Timestamps))
}

/// Every parameter struct the launchers fill, with the WGSL struct it mirrors
/// (tests/shaders.rs compares their layouts).
pub fn uniform_layouts() -> Vec<layout::UniformLayout> {
    [
        conv::uniform_layouts(),
        dropout::uniform_layouts(),
        linear::uniform_layouts(),
        loss::uniform_layouts(),
        lrn::uniform_layouts(),
        peak::uniform_layouts(),
        pool::uniform_layouts(),
        relu::uniform_layouts(),
        score_map::uniform_layouts(),
        sgd::uniform_layouts(),
        widen::uniform_layouts(),
    ]
    .concat()
}

/// Offset in elements of `local_row` rows into a chunk, as the u32 the shaders take.
pub(crate) fn element_offset(local_row: usize, row_len: usize) -> u32 {
    (local_row * row_len) as u32
}

#[cfg(test)]
mod tests {
    use super::fold_workgroups;

    #[test]
    fn folding_covers_every_workgroup_within_the_limit() {
        for groups in [1, 65_535, 65_536, 131_071, 1_000_000, 4_294_967] {
            let [x, y, z] = fold_workgroups(groups, 65_535);
            assert!(x <= 65_535 && y <= 65_535 && z == 1, "{groups}: {x}×{y}");
            assert!(
                x as u64 * y as u64 >= groups as u64,
                "{groups}: {x}×{y} too few"
            );
            assert!(
                (x as u64 * y as u64) < groups as u64 + x as u64,
                "{groups}: a whole spare row"
            );
        }
    }
}
