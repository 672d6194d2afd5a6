//! Tensors of 4-byte elements (f32 or u32) on the GPU, split along their first
//! dimension into chunks that each fit one storage binding.
//!
//! Why: VGG's fc6 weight is 25088×4096 f32 = 411 MB, while WebGPU guarantees only
//! 128 MiB per binding. A tensor is therefore a list of buffers, each holding a
//! contiguous range of rows (rows = indices of dimension 0). Kernels walk the chunks;
//! [`row_pieces`] lines up the chunks of several tensors that share dimension 0.

use std::ops::Range;

use super::readback::read_bytes;
use super::GpuDevice;
use crate::error::{Error, Result};

const ELEMENT_BYTES: u64 = 4;

/// One buffer of a tensor: rows `rows` of dimension 0.
#[derive(Clone)]
pub struct Chunk {
    pub buffer: wgpu::Buffer,
    pub rows: Range<usize>,
}

/// Cloning shares the buffers (wgpu handles are reference-counted).
#[derive(Clone)]
pub struct Tensor {
    pub label: String,
    pub shape: Vec<usize>,
    pub chunks: Vec<Chunk>,
}

impl Tensor {
    /// A zero-filled tensor (wgpu zero-initialises new buffers).
    pub fn zeros(ctx: &GpuDevice, label: &str, shape: &[usize]) -> Result<Tensor> {
        let layout = chunk_layout(ctx, label, shape)?;
        let buffers: Vec<wgpu::Buffer> = layout
            .iter()
            .map(|(_, bytes)| new_storage_buffer(ctx, label, *bytes))
            .collect();
        Ok(Self::view(label, shape, &layout, &buffers))
    }

    /// A tensor over existing buffers (at least as large as `layout` asks), so that
    /// tensors whose lifetimes do not overlap can share memory (see `gpu::arena`).
    pub fn view(
        label: &str,
        shape: &[usize],
        layout: &[(Range<usize>, u64)],
        buffers: &[wgpu::Buffer],
    ) -> Tensor {
        let chunks = layout
            .iter()
            .zip(buffers)
            .map(|((rows, _), buffer)| Chunk {
                buffer: buffer.clone(),
                rows: rows.clone(),
            })
            .collect();
        Tensor {
            label: label.to_string(),
            shape: shape.to_vec(),
            chunks,
        }
    }

    pub fn from_f32(ctx: &GpuDevice, label: &str, shape: &[usize], data: &[f32]) -> Result<Tensor> {
        let t = Self::zeros(ctx, label, shape)?;
        t.write_f32(ctx, data)?;
        Ok(t)
    }

    pub fn from_u32(ctx: &GpuDevice, label: &str, shape: &[usize], data: &[u32]) -> Result<Tensor> {
        let t = Self::zeros(ctx, label, shape)?;
        t.write_bytes(ctx, bytemuck::cast_slice(data))?;
        Ok(t)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements per row (the product of every dimension but the first).
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    pub fn write_f32(&self, ctx: &GpuDevice, data: &[f32]) -> Result<()> {
        self.write_bytes(ctx, bytemuck::cast_slice(data))
    }

    pub fn write_u32(&self, ctx: &GpuDevice, data: &[u32]) -> Result<()> {
        self.write_bytes(ctx, bytemuck::cast_slice(data))
    }

    /// Sets every element to `value` (tests poison outputs with NaN this way).
    pub fn fill_f32(&self, ctx: &GpuDevice, value: f32) {
        for chunk in &self.chunks {
            let n = (chunk.rows.len() * self.row_len()).max(1);
            ctx.queue
                .write_buffer(&chunk.buffer, 0, bytemuck::cast_slice(&vec![value; n]));
        }
    }

    fn write_bytes(&self, ctx: &GpuDevice, bytes: &[u8]) -> Result<()> {
        let expected = self.len() * ELEMENT_BYTES as usize;
        if bytes.len() != expected {
            return Err(Error::Shape {
                op: "tensor write",
                message: format!(
                    "'{}' of shape {:?} needs {} values, got {}",
                    self.label,
                    self.shape,
                    self.len(),
                    bytes.len() / ELEMENT_BYTES as usize
                ),
            });
        }
        let row_bytes = self.row_len() * ELEMENT_BYTES as usize;
        for chunk in &self.chunks {
            let part = &bytes[chunk.rows.start * row_bytes..chunk.rows.end * row_bytes];
            if !part.is_empty() {
                ctx.queue.write_buffer(&chunk.buffer, 0, part);
            }
        }
        Ok(())
    }

    pub async fn read_f32(&self, ctx: &GpuDevice) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&self.read_bytes(ctx).await?).to_vec())
    }

    pub async fn read_u32(&self, ctx: &GpuDevice) -> Result<Vec<u32>> {
        Ok(bytemuck::cast_slice(&self.read_bytes(ctx).await?).to_vec())
    }

    async fn read_bytes(&self, ctx: &GpuDevice) -> Result<Vec<u8>> {
        let row_bytes = (self.row_len() as u64) * ELEMENT_BYTES;
        let mut out = Vec::with_capacity(self.len() * ELEMENT_BYTES as usize);
        for chunk in &self.chunks {
            out.extend(read_bytes(ctx, &chunk.buffer, chunk.rows.len() as u64 * row_bytes).await?);
        }
        Ok(out)
    }

    /// The same buffers seen with another shape of the same dimension 0 and size
    /// (e.g. a pooled (N, C, H, W) activation read by a fully connected layer as (N, C·H·W)).
    pub fn reshaped(&self, shape: &[usize]) -> Result<Tensor> {
        let same_rows = shape.first() == self.shape.first();
        if !same_rows || shape.iter().product::<usize>() != self.len() {
            return Err(Error::Shape {
                op: "reshape",
                message: format!(
                    "'{}' of shape {:?} cannot be seen as {:?}",
                    self.label, self.shape, shape
                ),
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            ..self.clone()
        })
    }

    /// The buffer of a tensor that `op` needs whole (biases, small weights): an error
    /// when it is split into chunks.
    pub fn single_chunk(&self, op: &'static str) -> Result<&wgpu::Buffer> {
        match self.chunks.as_slice() {
            [only] => Ok(&only.buffer),
            _ => Err(Error::Shape {
                op,
                message: format!("'{}' must fit one storage binding", self.label),
            }),
        }
    }

    /// Checks the shape, naming the op and this tensor's role in it on mismatch.
    pub fn expect_shape(
        &self,
        op: &'static str,
        role: &'static str,
        expected: &[usize],
    ) -> Result<()> {
        if self.shape == expected {
            Ok(())
        } else {
            Err(Error::Shape {
                op,
                message: format!(
                    "tensor '{role}' has shape {:?}, expected {expected:?}",
                    self.shape
                ),
            })
        }
    }
}

/// How a tensor of `shape` splits: for each chunk, its rows and its size in bytes.
/// As many whole rows per chunk as fit `ctx.binding_limit`, rounded down to a multiple
/// of 4 when at least 8 fit: the vec4 linear kernels read a weight chunk's rows four at
/// a time (VGG-16's fc6 weight, 25088 floats a row, would otherwise split into chunks of
/// 1337 rows under a 128 MiB limit).
pub fn chunk_layout(
    ctx: &GpuDevice,
    label: &str,
    shape: &[usize],
) -> Result<Vec<(Range<usize>, u64)>> {
    let rows = shape.first().copied().unwrap_or(1);
    let row_len: usize = shape.iter().skip(1).product();
    let row_bytes = (row_len as u64 * ELEMENT_BYTES).max(ELEMENT_BYTES);
    if row_bytes > ctx.binding_limit {
        return Err(Error::RowTooLarge {
            label: label.to_string(),
            row_bytes,
            limit: ctx.binding_limit,
        });
    }
    let fit = (ctx.binding_limit / row_bytes) as usize;
    let rows_per_chunk = if fit >= 8 { fit / 4 * 4 } else { fit.max(1) };
    let mut layout = Vec::new();
    let mut start = 0;
    // A tensor with no rows still gets one (minimal) buffer, so it can be bound.
    while start < rows.max(1) {
        let end = (start + rows_per_chunk).min(rows.max(1));
        let bytes = ((end - start) as u64 * row_bytes).max(ELEMENT_BYTES);
        layout.push((start..end.min(rows), bytes));
        start = end;
    }
    Ok(layout)
}

pub(crate) fn new_storage_buffer(ctx: &GpuDevice, label: &str, bytes: u64) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// A run of rows that lies inside one chunk of every tensor given to [`row_pieces`].
#[derive(Clone, Debug, PartialEq)]
pub struct RowPiece {
    /// The rows (dimension-0 indices) this piece covers.
    pub rows: Range<usize>,
    /// For each tensor: the index of the chunk holding these rows.
    pub chunk: Vec<usize>,
    /// For each tensor: the first row of the piece, counted from its chunk's start.
    pub local_row: Vec<usize>,
}

/// Splits dimension 0, shared by all `tensors`, at every chunk boundary of any of them,
/// so that each piece can be processed by one dispatch binding one chunk per tensor.
pub fn row_pieces(tensors: &[&Tensor]) -> Vec<RowPiece> {
    let rows = tensors[0].shape.first().copied().unwrap_or(1);
    let mut cuts: Vec<usize> = tensors
        .iter()
        .flat_map(|t| t.chunks.iter().map(|c| c.rows.start))
        .chain([rows])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|w| {
            let start = w[0];
            let (chunk, local_row) = tensors
                .iter()
                .map(|t| {
                    let i = t
                        .chunks
                        .iter()
                        .position(|c| c.rows.contains(&start))
                        .unwrap_or(0);
                    (i, start - t.chunks[i].rows.start)
                })
                .unzip();
            RowPiece {
                rows: w[0]..w[1],
                chunk,
                local_row,
            }
        })
        .collect()
}
