//! The GPU side of the engine: adapter and device ([`context`]), shaders and their
//! compiled pipelines ([`pipeline`]), tensors that split themselves to fit the device's
//! binding limit ([`tensor`]), async readback ([`readback`]), and plan builds whose GPU
//! errors come back as errors ([`error_scope`]).

pub mod arena;
pub mod context;
pub mod error_scope;
pub mod pipeline;
pub mod readback;
pub mod tensor;

pub use context::{AdapterChoice, GpuDevice};
pub use pipeline::Shader;
pub use tensor::{row_pieces, Chunk, RowPiece, Storage, Tensor};
