//! The CPU reference of every op, forward and backward: plain loops, f64 accumulation,
//! written to be obviously right rather than fast. GPU kernels are tested against it,
//! and its backward passes are tested against [`gradcheck`]'s finite differences.

pub mod conv;
pub mod dense;
pub mod dropout;
pub mod gradcheck;
pub mod linear;
pub mod loss;
pub mod lrn;
pub mod network;
pub mod peak;
pub mod pool;
pub mod relu;
pub mod score_map;
pub mod sgd;
