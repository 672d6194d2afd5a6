//! The GPU side of the engine: adapter and device ([`context`]), shaders and their
//! compiled pipelines ([`pipeline`]), tensors that split themselves to fit the device's
//! binding limit ([`tensor`]), and async readback ([`readback`]).

pub mod arena;
pub mod context;
pub mod pipeline;
pub mod readback;
pub mod tensor;

pub use context::{AdapterChoice, GpuDevice};
pub use pipeline::Shader;
pub use tensor::{row_pieces, Chunk, RowPiece, Tensor};
