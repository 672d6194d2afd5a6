//! The GPU side of the engine: adapter and device ([`context`]), tensors that split
//! themselves to fit the device's binding limit ([`tensor`]), and async readback
//! ([`readback`]).

pub mod arena;
pub mod context;
pub mod readback;
pub mod tensor;

pub use context::{AdapterChoice, GpuContext};
pub use tensor::{row_pieces, Chunk, RowPiece, Tensor};
