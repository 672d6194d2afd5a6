//! Data-parallel training, the paper's multi-GPU scheme (Section 3.3): every replica
//! holds the whole network on its own device and computes the gradient of its slice of
//! each batch; the gradients are summed on the host in buckets, as the backward pass
//! finishes them, in a fixed replica order; every replica then applies the same SGD
//! update to the same weights, so the replicas never drift apart.
//!
//! Across processes (MPI), each process sums its own replicas first and a
//! [`Collective`] sums the processes' buckets.

use std::cell::RefCell;
use std::time::Instant;

use futures_intrusive::channel::shared::{oneshot_channel, OneshotReceiver};

use super::network::Network;
use super::param_set::ParamSet;
use super::step_stats::StepStats;
use super::train_plan::TrainPlan;
use crate::error::{Error, Result};
use crate::gpu::readback::{map_failed, wait_for_submission};
use crate::kernels::GpuContext;
use crate::model::WeightFile;
use crate::shape::SgdHyper;

/// Gradients of about this many bytes travel together: large enough that each copy,
/// map and sum is worth its fixed cost, small enough that the first buckets are summed
/// while the GPU still computes the later ones.
pub const DEFAULT_BUCKET_BYTES: usize = 4 << 20;

/// The processes of one training job and what they do together.
pub trait Collective {
    /// This process's place, 0 to `processes() − 1`; process 0 writes the outputs.
    fn rank(&self) -> usize;
    /// Processes taking part (1 for a single process).
    fn processes(&self) -> usize;
    /// Sums `values` across processes in place, leaving the same bits on every one.
    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<()>;
    /// Bytes this process sends and receives to sum `elements` values.
    fn bytes_exchanged(&self, elements: usize) -> u64;
    /// Fails on every process, naming the difference, unless all of them were given
    /// the same `description` (of their configuration).
    fn agree(&self, description: &str) -> Result<()>;
}

/// One process: nothing to exchange.
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn processes(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn bytes_exchanged(&self, _: usize) -> u64 {
        0
    }
    fn agree(&self, _: &str) -> Result<()> {
        Ok(())
    }
}

/// Parameter tensors whose gradients are copied, summed and written back together.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Parameter indices (see [`ParamSet::get`]), packed in this order.
    pub params: Vec<usize>,
    /// f32 values in the bucket.
    pub elements: usize,
    /// The weight index whose gradient, finished by backward, closes the bucket.
    closes_at: usize,
}

/// Groups parameter pairs in the order backward finishes them (`order`: weight
/// indices; each bias follows its weight) into buckets of at least `bucket_bytes`.
pub fn buckets(params: &ParamSet, order: &[usize], bucket_bytes: usize) -> Vec<Bucket> {
    let mut buckets = Vec::new();
    let mut open = Bucket {
        params: Vec::new(),
        elements: 0,
        closes_at: 0,
    };
    for &weight in order {
        for p in [weight, weight + 1] {
            open.params.push(p);
            open.elements += params.get(p).len();
        }
        open.closes_at = weight;
        if open.elements * 4 >= bucket_bytes || Some(&weight) == order.last() {
            buckets.push(std::mem::replace(
                &mut open,
                Bucket {
                    params: Vec::new(),
                    elements: 0,
                    closes_at: 0,
                },
            ));
        }
    }
    buckets
}

/// What one step spent on exchanging gradients.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExchangeStats {
    /// Bytes copied between the devices and the host, plus those sent and received
    /// between processes.
    pub bytes: u64,
    /// Host time from a bucket's gradients being readable to their sum being written
    /// back to every replica (waiting for the GPU to finish a bucket is not counted).
    pub seconds: f64,
}

/// One [`TrainPlan`] per device, trained as one network.
pub struct DataParallel<'a> {
    devices: &'a [GpuContext],
    pub plans: Vec<TrainPlan>,
    buckets: Vec<Bucket>,
    /// [replica][bucket]: where finished gradients are copied for the host to read.
    staging: Vec<Vec<wgpu::Buffer>>,
    /// [bucket]: the host's sums, kept between steps (the classifier's bucket of
    /// VGG-16 alone is 411 MB, not to be allocated anew each step).
    sums: RefCell<Vec<Vec<f32>>>,
    /// Replicas in all processes together.
    total_replicas: usize,
}

impl<'a> DataParallel<'a> {
    /// Compiles `net` from `weights` on every device. Each replica takes
    /// `micro_batch × accumulation` samples of a step; `processes` processes with as
    /// many devices each make up the global batch.
    pub async fn new(
        devices: &'a [GpuContext],
        net: &Network,
        weights: &WeightFile,
        micro_batch: usize,
        accumulation: usize,
        processes: usize,
        bucket_bytes: usize,
    ) -> Result<DataParallel<'a>> {
        if devices.is_empty() {
            return Err(Error::InvalidArgument {
                op: "data-parallel training",
                message: "no device given".into(),
            });
        }
        let total_replicas = devices.len() * processes;
        let mut plans = Vec::new();
        for (r, ctx) in devices.iter().enumerate() {
            let first = net.first_param();
            let params = ParamSet::upload_from(ctx, &net.spec, weights, "initial weights", first)?;
            let plan = TrainPlan::new(ctx, net, params, micro_batch, accumulation, total_replicas)
                .await
                .map_err(|e| match devices.len() {
                    1 => e,
                    _ => Error::Replica {
                        replica: r,
                        device: ctx.describe(),
                        source: Box::new(e),
                    },
                })?;
            plans.push(plan);
        }
        let buckets = buckets(
            &plans[0].gradients,
            &plans[0].gradient_order(),
            bucket_bytes,
        );
        // A single replica in a single process updates straight from its own gradients.
        let exchanges = total_replicas > 1;
        let staging = devices
            .iter()
            .filter(|_| exchanges)
            .map(|ctx| {
                buckets
                    .iter()
                    .map(|b| {
                        ctx.device.create_buffer(&wgpu::BufferDescriptor {
                            label: Some("gradient bucket staging"),
                            size: (b.elements * 4) as u64,
                            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                            mapped_at_creation: false,
                        })
                    })
                    .collect()
            })
            .collect();
        let sums = match exchanges {
            true => buckets.iter().map(|b| vec![0.0; b.elements]).collect(),
            false => Vec::new(),
        };
        Ok(DataParallel {
            devices,
            plans,
            sums: RefCell::new(sums),
            buckets,
            staging,
            total_replicas,
        })
    }

    /// Samples this process takes per step.
    pub fn batch(&self) -> usize {
        self.plans[0].batch() * self.plans.len()
    }

    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// One SGD step on this process's share of the global batch: `images` (batch, 3,
    /// S, S) and `labels` (batch), cut into one contiguous slice per replica.
    /// `sample_base` is the global index of this process's first sample.
    #[allow(clippy::too_many_arguments)]
    pub async fn step(
        &self,
        images: &[f32],
        labels: &[u32],
        hyper: &SgdHyper,
        seed: u32,
        step: u32,
        sample_base: usize,
        reduce: &dyn Collective,
    ) -> Result<(StepStats, ExchangeStats)> {
        let per_replica = self.plans[0].batch();
        if labels.len() != self.batch() || !images.len().is_multiple_of(self.batch().max(1)) {
            return Err(Error::Shape {
                op: "data-parallel step",
                message: format!(
                    "expected {} images and labels ({} replicas × {per_replica}), got {} labels",
                    self.batch(),
                    self.plans.len(),
                    labels.len()
                ),
            });
        }
        let mut exchange = ExchangeStats::default();

        if self.total_replicas == 1 {
            let ctx = &self.devices[0];
            let plan = &self.plans[0];
            plan.submit_gradients(ctx, images, labels, seed, step, sample_base, &mut |_, _| {
                false
            })?;
            plan.submit_update(ctx, hyper);
            return Ok((plan.read_stats(ctx).await?, exchange));
        }

        let (submissions, maps) = self.submit_replicas(images, labels, seed, step, sample_base)?;
        // Sum bucket by bucket, replicas in order, while later buckets still compute.
        for (b, bucket) in self.buckets.iter().enumerate() {
            for (r, ctx) in self.devices.iter().enumerate() {
                wait_for_submission(ctx, &submissions[r][b])?;
                maps[r][b]
                    .receive()
                    .await
                    .ok_or(Error::Readback {
                        what: "a gradient map callback was dropped",
                        source: None,
                    })?
                    .map_err(map_failed)?;
            }
            let start = Instant::now();
            self.sum_bucket(b, bucket, reduce)?;
            exchange.seconds += start.elapsed().as_secs_f64();
            exchange.bytes += 2 * (bucket.elements * 4 * self.devices.len()) as u64
                + reduce.bytes_exchanged(bucket.elements);
        }

        let mut stats = StepStats::default();
        for (ctx, plan) in self.devices.iter().zip(&self.plans) {
            plan.submit_update(ctx, hyper);
        }
        for (ctx, plan) in self.devices.iter().zip(&self.plans) {
            stats.add(&plan.read_stats(ctx).await?);
        }
        Ok((stats, exchange))
    }

    /// Submits every replica's forward and backward passes on its slice of the batch,
    /// each bucket's gradients copied to staging as soon as the backward pass finishes
    /// them. Returns, per replica, the submissions to wait for and the staging maps.
    fn submit_replicas(
        &self,
        images: &[f32],
        labels: &[u32],
        seed: u32,
        step: u32,
        sample_base: usize,
    ) -> Result<InFlight> {
        let per_replica = self.plans[0].batch();
        let image_len = images.len() / labels.len();
        let mut submissions = Vec::new();
        let mut maps = Vec::new();
        for (r, (ctx, plan)) in self.devices.iter().zip(&self.plans).enumerate() {
            let samples = r * per_replica..(r + 1) * per_replica;
            let mut next = 0;
            let staging = &self.staging[r];
            let mut copy_finished = |weight: usize, encoder: &mut wgpu::CommandEncoder| {
                let Some(bucket) = self.buckets.get(next).filter(|b| b.closes_at == weight) else {
                    return false;
                };
                let mut offset = 0;
                for &p in &bucket.params {
                    let tensor = plan.gradients.get(p);
                    for chunk in &tensor.chunks {
                        let bytes = (chunk.rows.len() * tensor.row_len() * 4) as u64;
                        encoder.copy_buffer_to_buffer(
                            &chunk.buffer,
                            0,
                            &staging[next],
                            offset,
                            bytes,
                        );
                        offset += bytes;
                    }
                }
                next += 1;
                true
            };
            submissions.push(plan.submit_gradients(
                ctx,
                &images[samples.start * image_len..samples.end * image_len],
                &labels[samples.clone()],
                seed,
                step,
                sample_base + samples.start,
                &mut copy_finished,
            )?);
            maps.push(staging.iter().map(map_for_reading).collect());
        }
        Ok((submissions, maps))
    }

    /// Bucket `b`'s gradients, mapped on every replica, summed in replica order, summed
    /// across processes, and written back to every replica's gradient tensors.
    fn sum_bucket(&self, b: usize, bucket: &Bucket, reduce: &dyn Collective) -> Result<()> {
        let mut sums = self.sums.borrow_mut();
        let sum = &mut sums[b];
        for (r, staging) in self.staging.iter().enumerate() {
            let range = staging[b]
                .slice(..)
                .get_mapped_range()
                .map_err(map_failed)?;
            let values: &[f32] = bytemuck::cast_slice(&range);
            match r {
                0 => sum.copy_from_slice(values),
                _ => sum.iter_mut().zip(values).for_each(|(s, v)| *s += v),
            }
        }
        for staging in &self.staging {
            staging[b].unmap();
        }
        reduce.all_reduce_sum(sum)?;
        for (ctx, plan) in self.devices.iter().zip(&self.plans) {
            let mut offset = 0;
            for &p in &bucket.params {
                let tensor = plan.gradients.get(p);
                for chunk in &tensor.chunks {
                    let len = chunk.rows.len() * tensor.row_len();
                    ctx.queue.write_buffer(
                        &chunk.buffer,
                        0,
                        bytemuck::cast_slice(&sum[offset..offset + len]),
                    );
                    offset += len;
                }
            }
        }
        Ok(())
    }
}

/// Per replica, its submissions and, per bucket, the pending map of its staging buffer.
type InFlight = (Vec<Vec<wgpu::SubmissionIndex>>, Vec<Vec<StagingMap>>);

/// A staging buffer's pending `map_async`, answered when the GPU has filled it.
type StagingMap = OneshotReceiver<std::result::Result<(), wgpu::BufferAsyncError>>;

/// Starts mapping `buffer` for reading; the receiver answers once it is readable.
fn map_for_reading(buffer: &wgpu::Buffer) -> StagingMap {
    let (sender, receiver) = oneshot_channel();
    buffer
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |result| {
            sender.send(result).ok();
        });
    receiver
}
