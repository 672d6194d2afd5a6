//! Tensors of 4-byte elements (f32 or u32) on the GPU, split along their first
//! dimension into chunks that each fit one storage binding. A weight for inference may
//! instead be stored as IEEE halves, two to a u32 ([`Storage::F16`]).
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

/// Values an F16 tensor's write packs at a time (16 MiB of words; even).
const PACK_SLICE_VALUES: usize = 8 << 20;

/// One buffer of a tensor: rows `rows` of dimension 0.
#[derive(Clone)]
pub struct Chunk {
    pub buffer: wgpu::Buffer,
    pub rows: Range<usize>,
}

/// How a tensor's elements are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// 4 bytes each (f32, or u32 for labels and indices).
    F32,
    /// IEEE halves, element e of a chunk in the low (e even) or high half of u32 e / 2:
    /// half the memory of a weight, for inference only. Kernels read such a weight
    /// where their `WEIGHTS_F16` override is set (`shaders/prelude.wgsl`) and compute in
    /// f32; the CPU side writes and reads f32, rounded to the nearest half on the way in.
    F16,
}

/// Cloning shares the buffers (wgpu handles are reference-counted).
#[derive(Clone)]
pub struct Tensor {
    pub label: String,
    pub shape: Vec<usize>,
    pub chunks: Vec<Chunk>,
    pub storage: Storage,
}

impl Tensor {
    /// A zero-filled tensor (wgpu zero-initialises new buffers).
    pub fn zeros(ctx: &GpuDevice, label: &str, shape: &[usize]) -> Result<Tensor> {
        Self::zeros_stored(ctx, label, shape, Storage::F32)
    }

    /// A zero-filled tensor stored as `storage` says. An F16 tensor splits into the
    /// chunks of an F32 one (each half the size), so kernels see the same rows.
    pub fn zeros_stored(
        ctx: &GpuDevice,
        label: &str,
        shape: &[usize],
        storage: Storage,
    ) -> Result<Tensor> {
        let mut layout = chunk_layout(ctx, label, shape)?;
        if storage == Storage::F16 {
            let row_len: usize = shape.iter().skip(1).product();
            for (rows, bytes) in &mut layout {
                *bytes = packed_words(rows.len() * row_len).max(1) as u64 * ELEMENT_BYTES;
            }
        }
        let buffers: Vec<wgpu::Buffer> = layout
            .iter()
            .map(|(_, bytes)| new_storage_buffer(ctx, label, *bytes))
            .collect();
        Ok(Tensor {
            storage,
            ..Self::view(label, shape, &layout, &buffers)
        })
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
            storage: Storage::F32,
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

    /// Writes every element (rounded to the nearest half in an F16 tensor).
    pub fn write_f32(&self, ctx: &GpuDevice, data: &[f32]) -> Result<()> {
        match self.storage {
            Storage::F32 => self.write_bytes(ctx, bytemuck::cast_slice(data)),
            Storage::F16 => {
                self.check_length(data.len())?;
                let row_len = self.row_len();
                for chunk in &self.chunks {
                    let part = &data[chunk.rows.start * row_len..chunk.rows.end * row_len];
                    // Packed a slice at a time (an even count of values: each starts on a
                    // word), so the packed copy is never a whole chunk: packing VGG-16's
                    // FC1 at once grew the page's wasm memory from 535 to 735 MiB.
                    for (i, slice) in part.chunks(PACK_SLICE_VALUES).enumerate() {
                        let words = pack_halves(slice);
                        let offset = (i * PACK_SLICE_VALUES / 2) as u64 * ELEMENT_BYTES;
                        ctx.queue
                            .write_buffer(&chunk.buffer, offset, bytemuck::cast_slice(&words));
                    }
                }
                Ok(())
            }
        }
    }

    pub fn write_u32(&self, ctx: &GpuDevice, data: &[u32]) -> Result<()> {
        self.write_bytes(ctx, bytemuck::cast_slice(data))
    }

    /// Sets every element to `value` (tests poison outputs with NaN this way).
    pub fn fill_f32(&self, ctx: &GpuDevice, value: f32) {
        for chunk in &self.chunks {
            let n = (chunk.rows.len() * self.row_len()).max(1);
            let words = match self.storage {
                Storage::F32 => vec![value.to_bits(); n],
                Storage::F16 => pack_halves(&vec![value; n]),
            };
            ctx.queue
                .write_buffer(&chunk.buffer, 0, bytemuck::cast_slice(&words));
        }
    }

    fn check_length(&self, values: usize) -> Result<()> {
        if values == self.len() {
            return Ok(());
        }
        Err(Error::Shape {
            op: "tensor write",
            message: format!(
                "'{}' of shape {:?} needs {} values, got {values}",
                self.label,
                self.shape,
                self.len(),
            ),
        })
    }

    /// Writes 4-byte elements as they are (F32 storage only: f32 or u32 values).
    fn write_bytes(&self, ctx: &GpuDevice, bytes: &[u8]) -> Result<()> {
        assert_eq!(
            self.storage,
            Storage::F32,
            "'{}': bytes into F16 storage",
            self.label
        );
        self.check_length(bytes.len() / ELEMENT_BYTES as usize)?;
        let row_bytes = self.row_len() * ELEMENT_BYTES as usize;
        for chunk in &self.chunks {
            let part = &bytes[chunk.rows.start * row_bytes..chunk.rows.end * row_bytes];
            if !part.is_empty() {
                ctx.queue.write_buffer(&chunk.buffer, 0, part);
            }
        }
        Ok(())
    }

    /// Reads every element back (an F16 tensor's halves widened, exactly).
    pub async fn read_f32(&self, ctx: &GpuDevice) -> Result<Vec<f32>> {
        match self.storage {
            Storage::F32 => Ok(bytemuck::cast_slice(&self.read_bytes(ctx).await?).to_vec()),
            Storage::F16 => {
                let mut out = Vec::with_capacity(self.len());
                for chunk in &self.chunks {
                    let n = chunk.rows.len() * self.row_len();
                    let bytes = packed_words(n) as u64 * ELEMENT_BYTES;
                    let words = read_bytes(ctx, &chunk.buffer, bytes).await?;
                    out.extend(unpack_halves(bytemuck::cast_slice(&words), n));
                }
                Ok(out)
            }
        }
    }

    pub async fn read_u32(&self, ctx: &GpuDevice) -> Result<Vec<u32>> {
        Ok(bytemuck::cast_slice(&self.read_bytes(ctx).await?).to_vec())
    }

    /// Reads 4-byte elements as they are (F32 storage only).
    async fn read_bytes(&self, ctx: &GpuDevice) -> Result<Vec<u8>> {
        assert_eq!(
            self.storage,
            Storage::F32,
            "'{}': bytes from F16 storage",
            self.label
        );
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

    /// Checks that the tensor is stored as f32: an F16 weight is for inference only (no
    /// backward kernel reads one).
    pub fn expect_f32(&self, op: &'static str, role: &'static str) -> Result<()> {
        match self.storage {
            Storage::F32 => Ok(()),
            Storage::F16 => Err(Error::Shape {
                op,
                message: format!("tensor '{role}' is stored as f16, which only inference reads"),
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

/// The u32 words that hold `values` halves.
fn packed_words(values: usize) -> usize {
    values.div_ceil(2)
}

/// `values` rounded to the nearest IEEE half (ties to even), two to a word, the first
/// in the low half (what WGSL's `unpack2x16float` reads as `.x`).
pub fn pack_halves(values: &[f32]) -> Vec<u32> {
    values
        .chunks(2)
        .map(|pair| {
            let low = half::f16::from_f32(pair[0]).to_bits() as u32;
            let high = pair
                .get(1)
                .map_or(0, |&v| half::f16::from_f32(v).to_bits() as u32);
            low | (high << 16)
        })
        .collect()
}

/// The first `n` halves of `words` as f32 (exact), the inverse of [`pack_halves`].
pub fn unpack_halves(words: &[u32], n: usize) -> Vec<f32> {
    words
        .iter()
        .flat_map(|&w| [w as u16, (w >> 16) as u16])
        .take(n)
        .map(|h| half::f16::from_bits(h).to_f32())
        .collect()
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
